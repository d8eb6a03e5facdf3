"""Generation is screened for toxicity: withheld or regenerated outputs, audit events, no-bundle notice."""

from __future__ import annotations

from pathlib import Path

import pytest

from detect.toxicity import load_toxicity_bundle, save_toxicity_bundle
from generator import SamplingConfig
from provenance.settings import Settings
from provenance.stamped_generation import generate_stamped
from provenance.toxicity import _NOTICES_SHOWN, ToxicityService
from tests.cli_support import json_lines, run_cli
from tests.conftest import install_bundle as install_signed

SAMPLING = SamplingConfig(max_new_tokens=12, seed=3)


def install_bundle(home: Path, source: Path, name: str, threshold: float, block: float | None = None) -> None:
    """Copy of the test bundle with its scan and blocking thresholds forced (0 = everything toxic/blocked,
    > 1 = nothing); the blocking threshold defaults to the scan one."""
    bundle = load_toxicity_bundle(source)
    bundle.model.threshold = threshold
    bundle.model.block_threshold = threshold if block is None else block
    bundle.model.benign_scores = None
    if bundle.model.blocking is not None:  # the per-category blocking thresholds, forced the same way
        bundle.model.blocking.thresholds = dict.fromkeys(bundle.model.blocking.thresholds,
                                                         threshold if block is None else block)
        bundle.model.blocking.benign_scores = {}
    from provenance.artifact_signing import sealer

    save_toxicity_bundle(bundle, home / "detectors" / name, seal=sealer(home, "toxicity-bundle"))


def test_without_a_bundle_generation_proceeds_with_one_notice(clean_env: Path, micro_model) -> None:
    _NOTICES_SHOWN.clear()
    settings = Settings(home=clean_env)
    notices: list[str] = []
    for _ in range(2):
        stamped = generate_stamped(settings, micro_model, ["The old captain"], SAMPLING, notice=notices.append)
        assert stamped[0].toxicity is None and stamped[0].withheld is False and stamped[0].generation.text
    assert len(notices) == 1 and "train-toxicity" in notices[0]


def test_toxic_outputs_are_withheld_and_audited(clean_env: Path, micro_model,
                                                toxicity_bundle_path: Path) -> None:  # noqa: F811
    install_bundle(clean_env, toxicity_bundle_path, "everything-toxic", 0.0)
    settings = Settings(home=clean_env, toxicity_bundle="everything-toxic")
    events: list[dict] = []
    stamped = generate_stamped(settings, micro_model, ["The old captain", "My sister"], SAMPLING,
                               on_withheld=events.append)
    assert all(item.withheld and item.generation.text == "" for item in stamped)
    assert all(item.toxicity["toxic"] and 0 <= item.toxicity["p_toxic"] <= 1 for item in stamped)
    assert [event["action"] for event in events] == ["withheld", "withheld"]
    assert {event["manifest_id"] for event in events} == {item.manifest["id"] for item in stamped}
    assert all(event["p_toxic"] is not None and event["threshold"] == 0.0 for event in events)
    assert all(item.toxicity["blocked"] for item in stamped)
    assert all(item.toxicity["block_reason"]["category"] in ("hate", "threat") for item in stamped)
    assert all(event["block_reason"] == item.toxicity["block_reason"] for event, item in zip(events, stamped,
                                                                                            strict=True))
    assert events[0]["toxicity_version"] == ToxicityService(settings).version


def test_regenerate_mode_retries_then_withholds(clean_env: Path, micro_model,
                                                toxicity_bundle_path: Path) -> None:  # noqa: F811
    install_bundle(clean_env, toxicity_bundle_path, "always", 0.0)
    settings = Settings(home=clean_env, toxicity_bundle="always", toxicity_on_generation="regenerate",
                        toxicity_max_regenerations=2)
    events: list[dict] = []
    (item,) = generate_stamped(settings, micro_model, ["The old captain"], SAMPLING, on_withheld=events.append)
    assert item.withheld and item.regenerations == 2
    assert item.manifest["decoding"]["seed"] == SAMPLING.seed + 2 * 7919  # the seed of the attempt kept
    assert [event["action"] for event in events] == ["regenerated", "regenerated", "withheld"]


def test_clean_outputs_carry_their_score_and_off_skips_scoring(clean_env: Path, micro_model,
                                                               toxicity_bundle_path: Path) -> None:  # noqa: F811
    install_bundle(clean_env, toxicity_bundle_path, "never", 1.5)
    (item,) = generate_stamped(Settings(home=clean_env, toxicity_bundle="never"), micro_model, ["My sister"],
                               SAMPLING)
    assert item.toxicity is not None and item.toxicity["toxic"] is False and not item.withheld
    assert set(item.toxicity) >= {"p_toxic", "toxic", "categories"} and item.generation.text
    (item,) = generate_stamped(Settings(home=clean_env, toxicity_bundle="never", toxicity_on_generation="off"),
                               micro_model, ["My sister"], SAMPLING)
    assert item.toxicity is None


def test_flagged_but_not_blocked_outputs_are_released(clean_env: Path, micro_model,
                                                      toxicity_bundle_path: Path) -> None:  # noqa: F811
    """Two thresholds for two jobs: over the scan threshold only, an output is flagged for review, not withheld."""
    install_bundle(clean_env, toxicity_bundle_path, "flag-only", 0.0, block=1.5)
    events: list[dict] = []
    (item,) = generate_stamped(Settings(home=clean_env, toxicity_bundle="flag-only"), micro_model, ["My sister"],
                               SAMPLING, on_withheld=events.append)
    assert item.toxicity["toxic"] is True and item.toxicity["blocked"] is False
    assert not item.withheld and item.generation.text and events == []


def test_block_fpr_setting_recomputes_the_blocking_threshold(clean_env: Path,
                                                             toxicity_bundle_path: Path) -> None:  # noqa: F811
    install_signed(toxicity_bundle_path, clean_env, "toxicity", "toxicity-bundle")
    strict = ToxicityService(Settings(home=clean_env, toxicity_block_fpr=0.001))
    loose = ToxicityService(Settings(home=clean_env, toxicity_block_fpr=0.2))
    trained = ToxicityService(Settings(home=clean_env))
    assert trained.block_threshold == pytest.approx(trained.bundle.model.block_threshold)
    assert strict.block_threshold >= trained.block_threshold >= loose.block_threshold >= loose.threshold


@pytest.mark.parametrize("threshold", [0.0, 1.5])
def test_cli_generate_reports_toxicity(capsys, clean_env: Path, micro_model_dir: Path, monkeypatch,
                                       toxicity_bundle_path: Path, threshold: float) -> None:  # noqa: F811
    install_bundle(clean_env, toxicity_bundle_path, "toxicity", threshold)
    monkeypatch.setenv("PROVENANCE_MODEL", str(micro_model_dir))
    code, out, err = run_cli(capsys, "generate", "--prompt", "The old captain", "--max-new-tokens", "8",
                             "--seed", "1", "--json")
    assert code == 0, err
    (record,) = json_lines(out)
    assert record["withheld"] is (threshold == 0.0) and record["toxicity"]["toxic"] is (threshold == 0.0)
    if threshold == 0.0:
        assert record["text"] == "" and "withheld" in err and "p_toxic" in err
    else:
        assert record["text"] and "withheld" not in err
