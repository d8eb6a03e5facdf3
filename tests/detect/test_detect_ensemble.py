"""Ensemble, thresholds, abstention and bundles on real (micro) scorer output."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from detect.bundle import Bundle, ScorerIdentity, load_bundle, save_bundle
from detect.classifier import ScoredText
from detect.data import LabelledText, assign_groups, read_labelled
from detect.domain_router import fit_router
from detect.ensemble import AbstainPolicy, Thresholds, choose_thresholds, threshold_at_fpr
from detect.errors import BundleMismatchError, DetectionError
from detect.evaluation import evaluate_items, holdout_table, roc_plot
from detect.perplexity import PerplexityScorer, PerplexityStats
from detect.scoring import judge_texts
from detect.training import prepare
from tests.detect.registers import KITCHEN, SKY, texts_from, three_registers


def test_threshold_at_fpr_allows_exactly_the_promised_count() -> None:
    scores = np.arange(200, dtype=float)  # 200 human scores
    t = threshold_at_fpr(scores, 0.01)
    assert (scores > t).sum() == 2


def test_machine_threshold_holds_in_every_domain() -> None:
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0, 0.5, 300), rng.uniform(0.2, 0.9, 300), rng.uniform(0.5, 1, 600)])
    labels = np.array([0] * 600 + [1] * 600)
    domains = np.array(["a"] * 300 + ["b"] * 300 + ["a"] * 300 + ["b"] * 300)
    t = choose_thresholds(p, labels, domains, 0.01)
    for domain in "ab":
        humans = p[(labels == 0) & (domains == domain)]
        assert (humans >= t.machine).mean() <= 0.01
    assert t.human <= t.machine


def test_groups_join_rows_that_share_a_prompt(tmp_path: Path) -> None:
    rows = [LabelledText("The same opening words of a news story go here and then differ one", 0, "d", "h", "f:1",
                         "a.jsonl#1"),
            LabelledText("The same opening words of a news story go here and then differ two", 1, "d", "g", "f:2",
                         "b.jsonl#7"),
            LabelledText("Completely different text", 1, "d", "g", "f:3", "a.jsonl#2")]
    groups = [row.group for row in assign_groups(rows)]
    assert groups[0] == groups[1] != groups[2]


def test_bad_training_lines_are_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'{"text": "fine", "label": "human"}\n{"label": "machine"}\nnot json\n'
                     b'{"text": "x", "label": "robot"}\n\xff\xfe\n')
    rows, rejected = read_labelled([path])
    assert len(rows) == 1
    assert [r.source for r in rejected] == ["data.jsonl:2", "data.jsonl:3", "data.jsonl:4", "data.jsonl:5"]
    with pytest.raises(DetectionError, match="both human and machine"):
        prepare([path])


def test_abstain_reasons() -> None:
    policy = AbstainPolicy()
    nan = float("nan")

    def item(text: str, tokens: int) -> ScoredText:
        return ScoredText(text, PerplexityStats(tokens, False, *([nan] * 17)))

    assert policy.reason(item("", 0)) == "empty text"
    assert "too short" in policy.reason(item("hello", 2))
    assert "Latin" in policy.reason(item("这是 一个 很长 的 中文 句子 " * 10, 80))
    assert "letters" in policy.reason(item("\ufffd\ufffd 12 \ufffd" * 20, 80))
    assert policy.reason(item("word " * 40, 45)) is None


def test_bundle_detects_micro_model_text(bundle: Bundle, scorer: PerplexityScorer, detect_data_file: Path) -> None:
    cv = bundle.card["metrics"]["cross_validated"]
    assert cv["ensemble"]["auroc"] > 0.8  # micro-model samples are easy for the micro model itself
    assert set(cv) >= {"ensemble", "classifier", "fast_detectgpt", "log_likelihood", "log_rank"}
    t = bundle.card["thresholds"]
    assert 0 <= t["human"] <= t["machine"] <= 1 and t["target_fpr"] == 0.01
    assert bundle.card["scorer"]["weights_sha256"] == scorer.lm.weights_sha256
    assert bundle.card["data"]["human"] == 100 and bundle.card["data"]["machine"] == 100


def test_verdicts_cover_every_text_in_order(bundle: Bundle, scorer: PerplexityScorer) -> None:
    texts = ["", "two words", "The old captain walked toward the harbour before the storm. " * 4,
             "x" * 5_000_000]
    verdicts = judge_texts(scorer, bundle, texts)
    assert [v.verdict for v in verdicts[:2]] == ["abstain", "abstain"]
    assert verdicts[0].p_machine is None and verdicts[0].reasons == ["empty text"]
    assert verdicts[2].verdict in {"machine", "human", "uncertain"}
    assert 0.0 <= verdicts[2].p_machine <= 1.0
    assert set(verdicts[2].detectors) >= {"fast_detectgpt", "classifier"}
    long_text = verdicts[3]
    assert long_text.diagnostics.get("tokens", 0) <= scorer.max_text_tokens
    assert long_text.verdict == "abstain" or any("long text" in r for r in long_text.reasons)


def test_bundle_round_trip_and_scorer_check(bundle: Bundle, scorer: PerplexityScorer, tmp_path: Path) -> None:
    save_bundle(bundle, tmp_path / "b")
    loaded = load_bundle(tmp_path / "b")
    loaded.check_scorer(ScorerIdentity.of(scorer))
    other = ScorerIdentity("gpt2", "0" * 64, "f" * 16, "stats")
    with pytest.raises(BundleMismatchError, match="trained for scorer"):
        loaded.check_scorer(other)
    assert len(loaded.training_hashes) == 200
    with pytest.raises(DetectionError, match="no detector bundle"):
        load_bundle(tmp_path / "missing")


def test_evaluation_and_holdout_tables(bundle: Bundle, scorer: PerplexityScorer, detect_data_file: Path,
                                       tmp_path: Path) -> None:
    data = prepare([detect_data_file])
    items = [ScoredText(row.text, stat) for row, stat in zip(data.rows, scorer.statistics(
        [row.text for row in data.rows]), strict=True)]
    report, curves = evaluate_items(bundle.ensemble, items, data.labels, replicates=30)
    row = report["ensemble"]
    assert row["auroc_ci95"][0] <= row["auroc"] <= row["auroc_ci95"][1]
    assert {"fpr_at_threshold", "tpr_at_threshold", "tpr_at_1pct_fpr"} <= row.keys()
    table = holdout_table(items, data.labels, data.groups, data.generators, n_splits=3)
    assert set(table) == {"micro-t10", "micro-t08"}
    assert all(not math.isnan(t["ensemble"]["auroc"]) for t in table.values())
    png = roc_plot(tmp_path / "roc.png", curves, curves["labels"], "test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_thresholds_also_hold_across_domains(scorer: PerplexityScorer, detect_data_file: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """With two domains, the machine threshold also covers leave-one-domain-out predictions."""
    import detect.ensemble as ensemble_module

    data = prepare([detect_data_file])
    items = [ScoredText(row.text, stat) for row, stat in zip(
        data.rows, scorer.statistics([row.text for row in data.rows]), strict=True)]
    args = (items, data.labels, data.groups, data.domains)
    monkeypatch.setattr(ensemble_module, "MIN_DOMAIN_HUMANS", 10_000)  # cross-domain check off
    # The mirrored human threshold (target_fnr=None): with a looser miss rate the in-domain human threshold can sit
    # at the (lower) in-domain machine threshold, so only the mirrored pair shows "the check only tightens".
    in_domain = ensemble_module.train_ensemble(*args, n_splits=3, target_fnr=None).ensemble.thresholds
    monkeypatch.setattr(ensemble_module, "MIN_DOMAIN_HUMANS", 10)  # on: both domains have 50 humans
    weights = ensemble_module.balanced_weights(data.labels)
    margins = np.zeros(len(items))
    shifted = ensemble_module.cross_domain_probabilities(
        items, data.labels, data.domains, margins, ensemble_module.stack_matrix(items, margins), weights, 1.0, 0)
    assert shifted is not None and np.isfinite(shifted).all()
    across = ensemble_module.train_ensemble(*args, n_splits=3, target_fnr=None).ensemble.thresholds
    assert across.machine >= in_domain.machine and across.human <= in_domain.human


def test_states_are_cached_beside_the_statistics_and_do_not_depend_on_batching(scorer: PerplexityScorer,
                                                                                tmp_path: Path) -> None:
    from detect.cache import StatisticsCache, cached_statistics, cached_statistics_and_states

    texts = ["The harbour master counted the barrels on the quay twice before noon.",
             "Gulls circled the masts while the crew carried sacks of grain ashore for the market."]
    _, together = scorer.statistics_and_states(texts)
    alone = np.vstack([scorer.statistics_and_states([text])[1] for text in texts])
    assert together.shape == (2, scorer.lm.model.config.n_embd)
    np.testing.assert_allclose(together, alone, rtol=1e-3, atol=1e-4)
    cache = StatisticsCache(tmp_path / "stats.sqlite")
    cached_statistics(scorer, texts[:1], cache)  # statistics only: its states are computed when first asked for
    stats, states = cached_statistics_and_states(scorer, texts, cache)
    np.testing.assert_allclose(states, together, rtol=1e-2, atol=1e-2)  # stored as float16
    assert [s.tokens for s in stats] == [s.tokens for s in scorer.statistics(texts)]


def test_the_probe_stacker_trains_a_probe_and_tolerates_texts_without_a_state(scorer: PerplexityScorer,
                                                                              detect_data_file: Path) -> None:
    from detect.ensemble import PROBE_INPUTS, train_ensemble

    data = prepare([detect_data_file])
    stats, states = scorer.statistics_and_states([row.text for row in data.rows])
    items = [ScoredText(row.text, stat, state) for row, stat, state in zip(data.rows, stats, states, strict=True)]
    result = train_ensemble(items, data.labels, data.groups, data.domains, n_splits=3, stacker="probe")
    ensemble = result.ensemble
    assert ensemble.probe is not None and ensemble.stack_inputs == PROBE_INPUTS
    assert np.isfinite(result.oof_scores["probe"]).mean() > 0.9
    scores, _ = ensemble.detector_scores(items[:5])
    assert np.isfinite(scores["probe"]).all()
    stateless = [ScoredText(item.text, item.stats) for item in items[:5]]
    p = ensemble.probabilities(stateless)  # scored before states existed: the probe column is imputed
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    assert train_ensemble(items, data.labels, data.groups, data.domains, n_splits=3).ensemble.probe is None


def test_a_routed_text_is_judged_by_its_domains_thresholds(bundle: Bundle, scorer: PerplexityScorer) -> None:
    texts, domains = three_registers(seed=3)
    router = fit_router(texts, domains, ["kitchen"])
    assert router is not None
    glob = bundle.ensemble.thresholds
    own = Thresholds(machine=2.0, human=-1.0, target_fpr=glob.target_fpr, target_fnr=glob.target_fnr,
                     domain="kitchen")  # beyond every probability: nothing is decided by them
    ensemble = replace(bundle.ensemble, router=router, domain_thresholds={"kitchen": own})
    judged = [texts_from(KITCHEN, 1, 7)[0], texts_from(SKY, 1, 7)[0]]
    items = [ScoredText(text, stat) for text, stat in zip(judged, scorer.statistics(judged), strict=True)]
    kitchen, sky = ensemble.judge(items)
    assert kitchen.thresholds == own and kitchen.verdict == "uncertain"
    assert kitchen.diagnostics["threshold_domain"] == "kitchen"
    assert "'kitchen' domain" in kitchen.reasons[0]
    assert sky.thresholds == glob and "threshold_domain" not in sky.diagnostics
    plain = replace(bundle.ensemble, router=None, domain_thresholds=None).judge(items)
    assert [v.p_machine for v in plain] == [kitchen.p_machine, sky.p_machine]  # routing never moves P(machine)
