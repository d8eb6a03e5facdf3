"""The one provenance lookup (exact, near duplicate, containment) shared by scan, API and dashboard.

The demo's case: stamped generations published as prompt + continuation are attributed to their own
manifests, by the lookup and by the scan pipeline (which stores the match with the verdict), and a
generation quoted inside a longer text is found by containment. Uses the shared reference GPT-2 when it is
there (the demo's model: the micro test model's text is too repetitive for distinct generations).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from generator.stamping import minhash
from provenance.settings import Settings
from provenance.signals.provenance import fast_minhash, text_hashes
from testkit.texts import synthetic_paragraphs

SHARED_MODEL = Path(os.environ.get("PROVENANCE_MODEL") or
                    Path(__file__).resolve().parents[3] / "shared" / "models" / "gpt2-corpus-27m")


def test_fast_minhash_equals_the_manifest_minhash() -> None:
    rng = random.Random(3)
    words = [f"w{rng.randrange(500)}" for _ in range(6000)]
    for text in ["", "short text", " ".join(words[:40]), " ".join(words)]:
        assert fast_minhash(text) == minhash(text)
    hashes = text_hashes(" ".join(words))
    assert hashes.bottom.shape[0] == 128 and (hashes.bottom[:, 0] == hashes.bottom.min(axis=1)).all()


@pytest.fixture(scope="module")
def stamped_home(tmp_path_factory: pytest.TempPathFactory):
    if not (SHARED_MODEL / "config.json").is_file():
        pytest.skip(f"the shared reference model is not at {SHARED_MODEL} (set PROVENANCE_MODEL)")
    from generator import SamplingConfig
    from provenance.cli.demo_scan import SCAN_PROMPTS
    from provenance.runtime import load_configured_model
    from provenance.stamped_generation import generate_stamped
    from provenance.store.ledger import record_generations

    home = tmp_path_factory.mktemp("stamped") / "home"
    settings = Settings(home=home, model=str(SHARED_MODEL), torch_threads=1, toxicity_on_generation="off")
    loaded = load_configured_model(settings)
    sampling = SamplingConfig(max_new_tokens=64, min_new_tokens=64, seed=8, top_k=50, temperature=0.9)
    stamped = generate_stamped(settings, loaded, SCAN_PROMPTS, sampling, requester="test")
    record_generations(settings, [item.manifest for item in stamped], actor="test")
    return settings, stamped


def _lookup(settings: Settings, texts: list[str]) -> list[dict]:
    from provenance.signals import build_signal

    return [result.value for result in build_signal("provenance", settings).score(texts)]


def test_published_generations_are_matched_to_their_manifests(stamped_home) -> None:
    settings, stamped = stamped_home
    published = [item.generation.prompt + item.generation.text for item in stamped]
    records = _lookup(settings, published)
    assert [r["best_match"]["manifest_id"] for r in records] == [item.manifest["id"] for item in stamped]
    assert all(r["best_match"]["similarity"] >= 0.5 for r in records)
    exact = _lookup(settings, [stamped[0].generation.text])[0]
    assert exact["match"] == "exact" and exact["best_match"]["kind"] == "exact" and exact["signature_valid"]


def test_containment_both_ways_and_no_match_for_unrelated_text(stamped_home) -> None:
    settings, stamped = stamped_home
    generation = stamped[2].generation.text
    quoted = " ".join(synthetic_paragraphs(6, seed=11)) + " " + generation + " " + " ".join(
        synthetic_paragraphs(6, seed=12))
    words = generation.split()
    excerpt = " ".join(words[: len(words) * 2 // 5])
    unrelated = " ".join(synthetic_paragraphs(8, seed=13))
    inside, part, none = _lookup(settings, [quoted, excerpt, unrelated])
    assert inside["best_match"]["manifest_id"] == stamped[2].manifest["id"]
    assert inside["best_match"]["kind"] == "containment"
    assert inside["containment"][0]["direction"] == "generation_in_text"
    assert part["best_match"]["manifest_id"] == stamped[2].manifest["id"]
    assert part["best_match"]["kind"] == "containment"
    assert part["containment"][0]["direction"] == "text_in_generation"
    assert none["best_match"] is None and none["containment"] == []


def test_scan_pipeline_stores_the_match_and_the_watermark_evidence(stamped_home, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The dump as the demo builds it (generations with their prompts, among human paragraphs), scored by
    the pipeline's own chunk processing: every generation gets its manifest, the humans none."""
    from sqlalchemy import select

    from provenance.pipeline import processing, submission
    from provenance.store import Document, VerdictRow, session_scope

    settings, stamped = stamped_home
    settings = Settings(home=settings.home, model=settings.model, torch_threads=1, scan_chunk_size=8,
                        database_url=f"sqlite:///{tmp_path / 'scan.sqlite'}")
    from provenance.store.ledger import record_generations

    record_generations(settings, [item.manifest for item in stamped], actor="test")
    sent: list[int] = []
    monkeypatch.setattr(submission, "send_chunk", lambda _settings, chunk_id: sent.append(chunk_id))
    monkeypatch.setenv("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    texts = [item.generation.prompt + item.generation.text for item in stamped] + synthetic_paragraphs(4, seed=21)
    dump = tmp_path / "dump.jsonl"
    dump.write_text("".join(json.dumps({"id": f"doc-{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    submission.submit_paths(settings, [dump])
    for chunk_id in sent:
        processing.process_chunk(settings, chunk_id)
    with session_scope(settings.resolved_database_url) as db:
        rows = db.execute(select(Document.source_id, VerdictRow.ledger_manifest_id, VerdictRow.signals)
                          .join(VerdictRow, VerdictRow.document_id == Document.id)).all()
    by_source = {source: (manifest_id, signals) for source, manifest_id, signals in rows}
    for i, item in enumerate(stamped):
        manifest_id, signals = by_source[f"doc-{i}"]
        watermark = signals["watermark"]
        assert manifest_id == item.manifest["id"]
        assert signals["provenance"]["manifest_id"] == manifest_id  # the ledger lookup's own record
        evidence = watermark["evidence"]
        assert len(evidence["offsets"]) == 2 * len(evidence["green"]) > 0
        assert watermark["watermarked"] and not watermark["abstain"]
    assert all(by_source[f"doc-{i}"][0] is None for i in range(len(stamped), len(texts)))


def test_the_signal_verifies_a_stored_manifest_once_for_every_reader(tmp_path: Path) -> None:
    """The dashboard's manifest panel asks the provenance signal (no verification code of its own)."""
    from generator.stamping import build_manifest, sign_manifest
    from provenance.signals.provenance import ProvenanceSignal
    from provenance.signing import load_or_create_signing_key

    settings = Settings(home=tmp_path / "home")
    assert ProvenanceSignal(settings).verify({"id": "x"}) == (
        False, f"cannot verify: no public key in {settings.home} (export one with provenance keys public)")
    signing = load_or_create_signing_key(settings.home)
    manifest = sign_manifest(build_manifest(text="An invented letter about the harbour lamps.", prompt="p",
                                            model={"name": "test"}, decoding={}, watermark=None,
                                            requester="test"), signing)
    signal = ProvenanceSignal(settings)
    assert signal.verify(manifest)[0] is True
    tampered = {**manifest, "requester": "someone else"}
    valid, reason = signal.verify(tampered)
    assert valid is False and reason
    assert signal.verify({"id": "no signature block"})[0] is False
