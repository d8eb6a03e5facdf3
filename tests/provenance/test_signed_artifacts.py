"""Bundles, the promotion state and bundle imports signed with the installation's Ed25519 key (issue #27 f).

The bundles here are small hand-made directories whose pickle, if it were ever unpickled, would create a marker
file: every refusal is therefore checked to happen *before* unpickling (the marker never appears)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import joblib
import pytest
from sqlalchemy import select

from provenance.artifact_signing import ArtifactSignatureError, sign_directory
from provenance.bundles import DETECTOR_KIND, PromotionError, read_state, write_state
from provenance.detection import DetectionService
from provenance.promotion import promote
from provenance.settings import Settings
from provenance.store import AuditLog, session_scope
from provenance.toxicity import TOXICITY_KIND, ToxicityService
from tests.cli_support import run_cli


class Trap:
    """Unpickling this creates ``marker``: proof that a refused file was never unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _detector(directory: Path, marker: Path, **card: object) -> Path:
    directory.mkdir(parents=True)
    joblib.dump(Trap(marker), directory / "ensemble.joblib")
    body = {"format": 1, "name": directory.name, "ensemble_sha256": _sha(directory / "ensemble.joblib"),
            "scorer": {"name": "micro", "weights_sha256": "w", "tokenizer_fingerprint": "t", "statistics": "s"}}
    (directory / "card.json").write_text(json.dumps({**body, **card}))
    (directory / "training-texts.sha256").write_text("")
    return directory


def _tamper_pickle_and_card(directory: Path, marker: Path, model_file: str, field: str) -> None:
    """The attack the card hash alone cannot stop: a new pickle, and the card's hash rewritten to match it."""
    joblib.dump([Trap(marker), "changed"], directory / model_file)
    card = json.loads((directory / "card.json").read_text())
    card[field] = _sha(directory / model_file)
    (directory / "card.json").write_text(json.dumps(card))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_a_pickle_changed_with_its_card_hash_is_refused_before_unpickling(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    directory = _detector(home / "detectors" / "default", marker)
    sign_directory(home, directory, DETECTOR_KIND)
    _tamper_pickle_and_card(directory, marker, "ensemble.joblib", "ensemble_sha256")
    with pytest.raises(ArtifactSignatureError) as refused:
        _ = DetectionService(Settings(home=home)).bundle
    assert str(directory / "ensemble.joblib") in str(refused.value)
    assert "changed after signing" in str(refused.value) and "nothing in it is unpickled" in str(refused.value)
    assert not marker.exists()


def test_a_toxicity_bundle_is_signed_and_checked_the_same_way(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    directory = home / "detectors" / "toxicity"
    directory.mkdir(parents=True)
    joblib.dump(Trap(marker), directory / "model.joblib")
    (directory / "card.json").write_text(json.dumps({"kind": "toxicity", "format": 1,
                                                     "model_sha256": _sha(directory / "model.joblib")}))
    sign_directory(home, directory, TOXICITY_KIND)
    _tamper_pickle_and_card(directory, marker, "model.joblib", "model_sha256")
    with pytest.raises(ArtifactSignatureError, match="model.joblib"):
        _ = ToxicityService(Settings(home=home)).bundle
    assert not marker.exists()


def test_bundles_from_elsewhere_load_only_after_an_audited_import(home: Path, tmp_path: Path, capsys,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "unpickled"
    elsewhere = tmp_path / "other-install"
    made = _detector(elsewhere / "detectors" / "partner", marker)
    sign_directory(elsewhere, made, DETECTOR_KIND)  # signed, but by another installation's key
    copied = home / "detectors" / "copied"
    shutil.copytree(made, copied)
    with pytest.raises(ArtifactSignatureError, match="not signed by this installation's key") as refused:
        _ = DetectionService(Settings(home=home), bundle_name="copied").bundle
    assert "import-bundle" in (refused.value.hint or "")
    (copied / "signature.json").unlink()
    with pytest.raises(ArtifactSignatureError, match="signature.json is missing"):
        _ = DetectionService(Settings(home=home), bundle_name="copied").bundle
    assert not marker.exists()

    monkeypatch.setenv("PROVENANCE_HOME", str(home))
    broken = tmp_path / "broken"
    shutil.copytree(made, broken)
    (broken / "ensemble.joblib").write_bytes(b"not the pickle the card describes")
    code, _out, err = run_cli(capsys, "detect", "import-bundle", str(broken), "--name", "broken")
    assert code != 0 and "does not match its card" in err and "Traceback" not in err
    code, out, err = run_cli(capsys, "detect", "import-bundle", str(made), "--name", "partner", "--json")
    assert code == 0, err
    imported = json.loads(out)
    assert imported["kind"] == DETECTOR_KIND and set(imported["files"]) == {
        "card.json", "ensemble.joblib", "training-texts.sha256"}
    code, _out, err = run_cli(capsys, "detect", "import-bundle", str(made), "--name", "partner")
    assert code != 0 and "already exists" in err
    with session_scope(Settings(home=home).resolved_database_url) as session:
        rows = session.scalars(select(AuditLog).where(AuditLog.action == "detect.import_bundle")).all()
    assert [row.subject_id for row in rows] == ["partner"]
    assert rows[0].details["files"]["ensemble.joblib"] == _sha(made / "ensemble.joblib")
    # Now signed here: the loader gets as far as unpickling (the trap fires, proving the signature passed).
    with pytest.raises(Exception):  # noqa: B017 - the trap is not a detector ensemble
        _ = DetectionService(Settings(home=home), bundle_name="partner").bundle
    assert marker.exists()


def _comparison(settings: Settings, reviewed: tuple[float, float]) -> dict:
    from provenance.bundles import bundle_version

    return {"active_version": bundle_version(settings, "default"),
            "reviewed_held_back": {"n": 10, "active": {"auroc": reviewed[0]}, "candidate": {"auroc": reviewed[1]}},
            "base_leave_one_domain_out": {"active": {}, "candidate": {}},
            "problems": [], "promotable": True}  # what the card claims; promotion works it out again


def test_promotion_recomputes_the_comparison_and_signs_its_state(home: Path, tmp_path: Path) -> None:
    settings = Settings(home=home)
    marker = tmp_path / "unpickled"
    sign_directory(home, _detector(home / "detectors" / "default", marker), DETECTOR_KIND)
    worse = _detector(home / "detectors" / "worse", marker,
                      retrain={"comparison": _comparison(settings, (0.80, 0.60))})
    sign_directory(home, worse, DETECTOR_KIND)
    with pytest.raises(PromotionError, match="worse than the active bundle"):
        promote(settings, "worse")
    better = _detector(home / "detectors" / "better", marker,
                       retrain={"comparison": _comparison(settings, (0.80, 0.60))})
    sign_directory(home, better, DETECTOR_KIND)
    card = json.loads((better / "card.json").read_text())  # numbers edited after signing
    card["retrain"]["comparison"]["reviewed_held_back"]["candidate"]["auroc"] = 0.99
    (better / "card.json").write_text(json.dumps(card))
    with pytest.raises(PromotionError, match="changed after signing"):
        promote(settings, "better")
    sign_directory(home, better, DETECTOR_KIND)  # as if this installation had written those numbers
    assert promote(settings, "better")["name"] == "better"
    assert read_state(settings)["active"] == "better"
    assert not marker.exists()

    state_file = home / "detectors" / "active.json"
    edited = json.loads(state_file.read_text())
    edited["active"] = "worse"
    state_file.write_text(json.dumps(edited))
    with pytest.raises(PromotionError, match="not signed by this installation's key or was altered"):
        read_state(settings)
    write_state(settings, {"active": "better", "history": []})
    assert read_state(settings) == {"active": "better", "history": []}


def test_the_onnx_export_cache_is_signed_and_checked_before_it_runs(home: Path, micro_model_dir: Path) -> None:
    from detect.onnx_scorer import EXPORT_CARD, ONNX_FILE

    settings = Settings(home=home, model=str(micro_model_dir), scorer_backend="onnx", scorer_quantize="none",
                        device="cpu", hub_offline=True)
    assert DetectionService(settings).scorer is not None  # exported on first use, signed before it appeared
    (export,) = (home / "cache" / "onnx").iterdir()
    assert (export / "signature.json").is_file()
    graph = export / ONNX_FILE
    graph.write_bytes(graph.read_bytes() + b"\0")  # another graph, and its export card rewritten to match
    card = json.loads((export / EXPORT_CARD).read_text())
    card["onnx_sha256"] = _sha(graph)
    (export / EXPORT_CARD).write_text(json.dumps(card))
    with pytest.raises(ArtifactSignatureError, match=ONNX_FILE) as refused:
        _ = DetectionService(settings).scorer
    assert "re-export" in (refused.value.hint or "")
