"""Issue 25's training recipe: folder domains, length cuts, the per-domain sample, both tails, the miss-rate target."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from detect.data import read_labelled
from detect.ensemble import (
    DEFAULT_TARGET_FNR,
    MIN_DOMAIN_HUMANS,
    StandardizedLogit,
    TwoSidedLogit,
    choose_thresholds,
)
from detect.training import CUT_ABOVE_CHARS, CUT_TO_MIN_CHARS, cut_length, prepare


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _sentence(i: int, kind: str) -> str:
    return f"Entry {i} of the {kind} set describes a harbour, a market and the weather of that week in some detail."


def test_files_split_by_label_take_their_folder_as_domain(tmp_path: Path) -> None:
    by_label = [_write(tmp_path / "webpages" / "human_pages.jsonl", [{"text": _sentence(1, "a"), "label": "human"}]),
                _write(tmp_path / "webpages" / "bigmodel_sampled.jsonl",
                       [{"text": _sentence(2, "b"), "label": "machine", "generator": "bigmodel"}])]
    by_domain = [_write(tmp_path / "mixed" / "recipes_modelx.jsonl",
                        [{"text": _sentence(3, "c"), "label": "human"},
                         {"text": _sentence(4, "d"), "label": "machine"}]),
                 _write(tmp_path / "mixed" / "letters_modelx.jsonl",
                        [{"text": _sentence(5, "e"), "label": "human", "domain": "given"},
                         {"text": _sentence(6, "f"), "label": "machine", "domain": "given"}])]
    rows, rejected = read_labelled(by_label + by_domain)
    assert not rejected
    assert [row.domain for row in rows] == ["webpages", "webpages", "recipes", "recipes", "given", "given"]


def test_long_texts_are_cut_the_same_way_every_time_and_short_ones_kept() -> None:
    words = " ".join(f"word{i}" for i in range(2000))
    cut = cut_length(words)
    assert cut == cut_length(words)
    assert CUT_TO_MIN_CHARS // 2 < len(cut) <= CUT_ABOVE_CHARS
    assert words.startswith(cut) and words[len(cut)] == " "  # at a word boundary
    short = "A short text stays whole."
    assert cut_length(short) == short


def test_cut_lengths_spread_over_the_range() -> None:
    lengths = [len(cut_length(f"document {n} " + "filler " * 600)) for n in range(200)]
    assert min(lengths) < CUT_TO_MIN_CHARS + 400 and max(lengths) > CUT_ABOVE_CHARS - 400


def test_the_sample_keeps_enough_humans_per_domain_and_shares_domains(tmp_path: Path) -> None:
    files = []
    for domain, machine_files in (("alpha", 5), ("beta", 5), ("gamma", 2)):
        files.append(_write(tmp_path / domain / f"{domain}_human.jsonl",
                            [{"text": _sentence(i, f"{domain} human"), "label": "human", "domain": domain}
                             for i in range(300)]))
        for k in range(machine_files):
            files.append(_write(tmp_path / domain / f"{domain}_m{k}.jsonl",
                                [{"text": _sentence(i, f"{domain} model {k}"), "label": "machine",
                                  "domain": domain, "generator": f"m{k}"} for i in range(200)]))
    data = prepare(files, max_texts=900, seed=3)
    assert len(data.rows) == 900
    counts = Counter((row.domain, row.label) for row in data.rows)
    for domain in ("alpha", "beta", "gamma"):
        assert counts[(domain, 0)] >= MIN_DOMAIN_HUMANS
        assert 250 <= counts[(domain, 0)] + counts[(domain, 1)] <= 350  # a third each, however finely split
    assert prepare(files, max_texts=900, seed=3).summary() == data.summary()


def test_two_sided_stacker_learns_machine_text_in_both_tails() -> None:
    rng = np.random.default_rng(0)
    humans = rng.normal(0, 1, (600, 2))
    typical = rng.normal([3, 0], 1, (300, 2))  # the scorer's own kind: too predictable
    atypical = rng.normal([-3, 0], 1, (300, 2))  # pure samples of another model: too unpredictable
    X = np.vstack([humans, typical, atypical])
    y = np.array([0] * 600 + [1] * 600)
    test_X = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal([3, 0], 1, (150, 2)), rng.normal([-3, 0], 1, (150, 2))])
    test_y = np.array([0] * 300 + [1] * 300)
    two_sided = TwoSidedLogit(two_sided=(0,)).fit(X, y)
    one_sided = StandardizedLogit().fit(X, y)
    assert roc_auc_score(test_y, two_sided.predict_proba(test_X)[:, 1]) > 0.9
    assert roc_auc_score(test_y, one_sided.predict_proba(test_X)[:, 1]) < 0.7
    # Each tail alone still ranks above human text.
    for tail in (slice(300, 450), slice(450, 600)):
        keep = np.r_[np.arange(300), np.arange(600)[tail]]
        assert roc_auc_score(test_y[keep], two_sided.predict_proba(test_X[keep])[:, 1]) > 0.9


def test_human_threshold_keeps_its_own_miss_rate() -> None:
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(0, 0.6, 1000), rng.uniform(0.2, 1.0, 1000)])
    labels = np.array([0] * 1000 + [1] * 1000)
    domains = np.array(["d"] * 2000)
    strict = choose_thresholds(p, labels, domains, 0.01)
    relaxed = choose_thresholds(p, labels, domains, 0.01, DEFAULT_TARGET_FNR)
    machines = p[labels == 1]
    assert (machines <= relaxed.human).mean() <= DEFAULT_TARGET_FNR
    assert (machines <= strict.human).mean() <= 0.01
    assert relaxed.human > strict.human and relaxed.machine == strict.machine
    assert relaxed.target_fnr == DEFAULT_TARGET_FNR and strict.target_fnr is None
