"""The memorisation index is signed with the platform key when the platform writes it, and checked before use.

Card and index sit side by side, so a card alone proves nothing against someone who can write both: an index
swapped and its card re-hashed to match must be refused, and so must a signature by another installation's key.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from detect.errors import DetectionError
from detect.memorisation import MemorisationGuard
from detect.ngram_index import UnsignedIndexError, load_verified
from generator.hashing import file_sha256
from generator.ngram_index import (
    INDEX_FILE,
    BloomIndex,
    build_index,
    card_path,
    save_with_card,
    signature_path,
    write_model_index,
)
from provenance.artifact_signing import index_sealer, index_verifier
from testkit.texts import synthetic_paragraphs

SEEN = [" ".join(synthetic_paragraphs(6, seed=s)) for s in range(20)]
OTHER = [" ".join(synthetic_paragraphs(6, seed=s)) for s in range(100, 120)]


def _signed(tmp_path: Path, home: Path) -> Path:
    path = tmp_path / "x.bloom"
    save_with_card(build_index(SEEN), path, seal=index_sealer(home), weights_sha256="ab" * 32)
    return path


def test_a_signed_index_is_accepted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = _signed(tmp_path, home)
    signature = json.loads(signature_path(path).read_text(encoding="utf-8"))["payload"]
    assert signature["index_sha256"] == file_sha256(path) and signature["card_sha256"] == file_sha256(card_path(path))
    index, card = load_verified(path, "ab" * 32, verify=index_verifier(home))
    assert index.overlap(SEEN[0]) == 1.0 and card["index_sha256"] == signature["index_sha256"]
    # A trainer's index (the CLI passes the sealed writer) is accepted by the guard the same way.
    model = tmp_path / "model"
    write_model_index(model, SEEN, seal=index_sealer(home))
    assert MemorisationGuard.for_scorer(model, None, None, verify=index_verifier(home)).index is not None


def test_an_index_swapped_with_its_card_rehashed_is_refused_before_use(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    path = _signed(tmp_path, home)
    build_index(OTHER).save(path)  # another index in its place ...
    card = json.loads(card_path(path).read_text(encoding="utf-8"))
    card["index_sha256"] = file_sha256(path)  # ... and the card re-hashed to match: the card check passes
    card_path(path).write_text(json.dumps(card), encoding="utf-8")
    assert load_verified(path)[0].overlap(OTHER[0]) == 1.0

    def never(*args, **kwargs):
        raise AssertionError("the index was read before its signature was checked")

    monkeypatch.setattr(BloomIndex, "load", classmethod(never))
    with pytest.raises(DetectionError, match="does not match its signature") as refused:
        load_verified(path, verify=index_verifier(home))
    assert str(path) in str(refused.value) and "index file, card changed" in str(refused.value)
    assert "memorisation-index --corpus DIR --rebuild" in refused.value.hint
    assert not isinstance(refused.value, UnsignedIndexError)  # refused, not skipped


def test_a_signature_by_another_key_is_refused(tmp_path: Path) -> None:
    path = _signed(tmp_path, tmp_path / "elsewhere")
    with pytest.raises(DetectionError, match="not signed by this installation's key") as refused:
        load_verified(path, verify=index_verifier(tmp_path / "home"))
    assert str(path) in str(refused.value) and "--rebuild" in refused.value.hint
    # The guard the scan uses (DetectionService.guard) refuses it too, rather than scanning without it.
    from provenance.detection import DetectionService
    from provenance.settings import Settings

    model = tmp_path / "model"
    write_model_index(model, SEEN, seal=index_sealer(tmp_path / "elsewhere"))
    service = DetectionService(Settings(home=tmp_path / "home"))
    service.__dict__["scorer"] = SimpleNamespace(lm=SimpleNamespace(path=model, weights_sha256=None))
    with pytest.raises(DetectionError, match=re.escape(str(model / INDEX_FILE))):
        _ = service.guard


def test_an_unsigned_index_is_skipped_like_one_without_a_card(tmp_path: Path) -> None:
    """Written by an older version: unverifiable rather than contradicted (see verify_index's docstring)."""
    model = tmp_path / "model"
    write_model_index(model, SEEN)
    with pytest.raises(UnsignedIndexError, match="not signed"):
        load_verified(model / INDEX_FILE, verify=index_verifier(tmp_path / "home"))
    with pytest.warns(UserWarning, match="memorisation guard off: .*not signed"):
        guard = MemorisationGuard.for_scorer(model, None, None, verify=index_verifier(tmp_path / "home"))
    assert guard.index is None


def test_ensure_index_signs_what_it_builds_and_rebuilds_an_unsigned_one(tmp_path: Path) -> None:
    from provenance.memorisation import ensure_index

    home, corpus = tmp_path / "home", tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "part0.txt").write_text("\n\n".join(SEEN) + "\n", encoding="utf-8")
    built = ensure_index(home, None, "ab" * 32, corpus)
    assert built.how == "built" and signature_path(built.path).is_file()
    assert ensure_index(home, None, "ab" * 32, corpus).how == "reused"
    signature_path(built.path).unlink()  # as an older version left it
    assert ensure_index(home, None, "ab" * 32, corpus).how == "built"
    load_verified(built.path, "ab" * 32, verify=index_verifier(home))
