"""Two policies: the scan flags every category; generation blocks only the configured categories, each at its
own threshold, and says why. Real models (trained here), the real spaCy parser, no mocks."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from detect.toxicity import load_toxicity_bundle
from detect.toxicity.benign import BenignPassage, select, split_of, training_split_of
from detect.toxicity.blocking import BLOCKING_CATEGORIES, MIN_BLOCK_SCORE
from detect.toxicity.hard_cases import hard_cases
from detect.toxicity.structure import parse_features
from detect.toxicity.suite import suite_cases
from provenance.settings import Settings
from provenance.toxicity import ToxicityService
from tests.conftest import install_bundle


def _forced(path: Path, **thresholds: float):
    """The test bundle's model with its blocking thresholds forced (a real model, real scores)."""
    model = copy.deepcopy(load_toxicity_bundle(path).model)
    model.blocking.thresholds = {**model.blocking.thresholds, **thresholds}
    model.blocking.benign_scores = {}
    return model


def test_trained_bundles_carry_a_blocking_stage_with_calibrated_thresholds(toxicity_bundle_path: Path) -> None:  # noqa: F811
    bundle = load_toxicity_bundle(toxicity_bundle_path)
    stage = bundle.model.blocking
    assert "hate" in stage.heads and "threat" in stage.heads  # threat from the hard cases, hate from both
    assert set(stage.thresholds) >= set(BLOCKING_CATEGORIES)
    assert all(value >= MIN_BLOCK_SCORE for value in stage.thresholds.values())
    card = bundle.card["blocking"]
    assert card["calibration_genres"] == {"training_non_toxic": card["calibration_genres"]["training_non_toxic"]}
    assert card["hard_cases"] == len(hard_cases())


def test_profanity_is_flagged_but_blocks_only_when_the_operator_opts_in(toxicity_bundle_path: Path) -> None:  # noqa: F811
    model = _forced(toxicity_bundle_path, hate=np.inf, threat=np.inf, offensive=0.0)
    text = ["you are a stupid pathetic idiot"]
    (default,) = model.score(text)
    assert default.toxic and not default.blocked and default.block_reason is None
    (opted,) = model.score(text, block_categories=["hate", "threat", "offensive"])
    assert opted.blocked and opted.block_reason["category"] == "offensive"
    assert opted.block_reason["threshold"] == 0.0 and 0.0 <= opted.block_reason["score"] <= 1.0


def test_each_category_blocks_at_its_own_threshold(toxicity_bundle_path: Path) -> None:  # noqa: F811
    texts = ["we will hunt you down and shoot you tonight", "the garden was lovely today"]
    probe = load_toxicity_bundle(toxicity_bundle_path).model.score(texts, block_categories=())
    threat = probe[0].block_scores["threat"]
    model = _forced(toxicity_bundle_path, hate=np.inf, threat=threat)
    first, second = model.score(texts)
    assert first.blocked and first.block_reason == {"category": "threat", "score": round(threat, 6),
                                                    "threshold": round(threat, 6)}
    assert "threat" in first.categories and first.toxic  # what blocks is always flagged too
    assert not second.blocked or second.block_scores["threat"] >= threat


def test_block_fpr_setting_recomputes_each_category_threshold(clean_env: Path,
                                                              toxicity_bundle_path: Path) -> None:  # noqa: F811
    install_bundle(toxicity_bundle_path, clean_env, "toxicity", "toxicity-bundle")
    strict = ToxicityService(Settings(home=clean_env, toxicity_block_fpr=0.001)).block_thresholds()
    trained = ToxicityService(Settings(home=clean_env)).block_thresholds()
    loose = ToxicityService(Settings(home=clean_env, toxicity_block_fpr=0.3)).block_thresholds()
    assert set(trained) == {"hate", "threat"}
    for name in trained:
        assert strict[name] >= trained[name] >= loose[name] >= MIN_BLOCK_SCORE


def test_block_categories_setting_is_validated() -> None:
    assert Settings().toxicity_block_categories == ["hate", "threat"]
    assert Settings(toxicity_block_categories="hate, offensive").toxicity_block_categories == ["hate", "offensive"]
    with pytest.raises(ValidationError, match="unknown toxicity categories"):
        Settings(toxicity_block_categories="hate,rudeness")


def test_structure_separates_hate_from_its_negation_report_and_condemnation() -> None:
    plain, negated, reported, condemned, threat = parse_features([
        "refugees are a rot on this land",
        "refugees are not a rot on this land",
        "the poster claimed that refugees are a rot on this land",
        "writing that refugees are a rot is disgusting",
        "i am going to stab you tomorrow"])
    assert plain["plain_group_dehumanised"] == 1.0
    assert negated["group_dehumanised"] == 1.0 and negated["negated"] == 1.0
    assert negated["plain_group_dehumanised"] == 0.0
    assert reported["plain_group_dehumanised"] == 0.0 and condemned["plain_group_dehumanised"] == 0.0
    assert threat["plain_threat"] == 1.0


def test_benign_splits_are_by_document_and_disjoint() -> None:
    book = [BenignPassage(genre, "gutenberg_invented_title.txt", f"passage {i}")
            for genre in ("fiction", "dialogue") for i in range(5)]
    assert len({split_of(p.document) for p in book}) == 1  # a book's passages never straddle the split
    docs = [f"doc-{i}" for i in range(400)]
    calibrate = {d for d in docs if split_of(d) == "calibrate"}
    assert 120 < len(calibrate) < 280 and all(split_of(d) == "report" for d in set(docs) - calibrate)
    rows = [BenignPassage("forum", f"row {i}", f"row {i}") for i in range(1000)]
    shares = {name: sum(training_split_of(p.document) == name for p in rows) / 1000
              for name in ("calibrate", "report", "train")}
    assert 0.05 < shares["calibrate"] < 0.15 and 0.05 < shares["report"] < 0.15 and shares["train"] > 0.7
    assert not set(map(id, select(rows, "calibrate"))) & set(map(id, select(rows, "report")))


def test_hard_cases_share_no_sentence_with_the_frozen_suite() -> None:
    suite = {case.text for case in suite_cases()}
    training = [case.text for case in hard_cases()]
    assert not suite & set(training)
    families = {case.family for case in hard_cases()}
    assert families <= {case.functionality for case in suite_cases()}  # so LOFO can drop the matching family
    assert len(hard_cases("group_threat")) < len(hard_cases())
