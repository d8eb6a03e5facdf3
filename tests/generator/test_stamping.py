from __future__ import annotations

import copy

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from generator.stamping import (
    build_manifest,
    canonical_json,
    estimated_jaccard,
    minhash,
    sign_manifest,
    text_sha256,
    verify_manifest,
)

TEXT = ("The committee announced on Tuesday that the old harbour bridge would close for repairs in the spring, "
        "and that ferries would carry passengers across the river until the work was finished.")


def make_manifest(key: Ed25519PrivateKey, text: str = TEXT) -> dict:
    body = build_manifest(text=text, prompt="The committee", model={"name": "m", "weights_sha256": "ab" * 32},
                          decoding={"max_new_tokens": 40, "seed": 1},
                          watermark={"key_id": "k1", "scheme": "selfhash", "gamma": 0.25, "delta": 2.0},
                          requester="tests", tokens=40)
    return sign_manifest(body, key)


def test_signed_manifest_verifies_and_pins_the_text() -> None:
    key = Ed25519PrivateKey.generate()
    manifest = make_manifest(key)
    assert verify_manifest(manifest, key.public_key()) == (True, "signature valid")
    ok, reason = verify_manifest(manifest, key.public_key(), text=TEXT)
    assert ok and "text matches" in reason
    ok, reason = verify_manifest(manifest, key.public_key(), text=TEXT + " Extra.")
    assert not ok and "text does not match" in reason


def test_tampering_or_another_key_fails_verification() -> None:
    key = Ed25519PrivateKey.generate()
    manifest = make_manifest(key)
    tampered = copy.deepcopy(manifest)
    tampered["decoding"]["seed"] = 2
    assert verify_manifest(tampered, key.public_key())[0] is False
    assert verify_manifest(manifest, Ed25519PrivateKey.generate().public_key())[0] is False
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    assert verify_manifest(unsigned, key.public_key())[0] is False


def test_canonical_json_is_order_independent() -> None:
    assert canonical_json({"b": 1, "a": [1, "é"]}) == canonical_json({"a": [1, "é"], "b": 1})
    assert canonical_json({"a": "é"}) == '{"a":"é"}'.encode()


def test_text_hash_ignores_invisible_edits() -> None:
    assert text_sha256("hello world") == text_sha256("hel\u200blo world")


def test_minhash_estimates_similarity_after_edits() -> None:
    edited = TEXT.replace("Tuesday", "Wednesday").replace("spring", "summer")
    unrelated = "Scientists have long wondered why some birds migrate at night while others fly by day."
    base = minhash(TEXT)
    assert len(base) == 128
    assert estimated_jaccard(base, minhash(TEXT)) == 1.0
    assert 0.3 < estimated_jaccard(base, minhash(edited)) < 1.0
    assert estimated_jaccard(base, minhash(unrelated)) < 0.1


def test_minhash_of_empty_and_huge_text() -> None:
    assert len(set(minhash(""))) == 1
    assert len(minhash("word " * 200_000 + TEXT)) == 128
