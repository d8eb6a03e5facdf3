"""Keys: key_id fingerprints, secrecy, and refusal of the wrong tokenizer or parameters."""

from __future__ import annotations

import json

import pytest

from tests.watermark.support import SECRET_A, SECRET_B, make_key, quick_tokenizer
from watermark import (
    WatermarkDetector,
    WatermarkError,
    WatermarkKey,
    WatermarkKeyMismatchError,
    WatermarkLogitsProcessor,
    new_secret,
    tokenizer_fingerprint,
)


def _leaks(secret: bytes, rendered: str) -> bool:
    return secret.hex() in rendered or repr(secret) in rendered or secret.hex()[:16] in rendered


def test_new_secret_is_32_random_bytes():
    first, second = new_secret(), new_secret()
    assert isinstance(first, bytes) and len(first) == 32 and first != second


def test_key_id_is_stable_and_changes_with_every_parameter(tokenizer):
    key = make_key(tokenizer)
    assert key.key_id == make_key(tokenizer).key_id
    assert key.key_id.startswith("wm-") and len(key.key_id) == 19
    variants = [make_key(tokenizer, secret=SECRET_B), make_key(tokenizer, gamma=0.3), make_key(tokenizer, delta=1.0),
                make_key(tokenizer, scheme="lefthash"), make_key(quick_tokenizer(seed=7, vocab_size=400))]
    assert len({key.key_id, *(v.key_id for v in variants)}) == len(variants) + 1


def test_secret_never_appears_in_repr_str_public_dict_or_detector(tokenizer):
    key = make_key(tokenizer)
    detector = WatermarkDetector(tokenizer, [key])
    result = detector.detect("The old captain walked toward the harbour before the storm. " * 3)
    rendered = [repr(key), str(key), json.dumps(key.to_public_dict()), repr(detector),
                json.dumps(result.to_dict(), default=str), repr(WatermarkLogitsProcessor(key, tokenizer)),
                repr(detector._scorers[0].green_fn)]
    for text in rendered:
        assert not _leaks(SECRET_A, text)
    assert "secret" not in key.to_public_dict()


def test_public_dict_round_trip_and_refusal_of_wrong_secret_or_parameters(tokenizer):
    key = make_key(tokenizer)
    public = key.to_public_dict()
    assert WatermarkKey.from_public_dict(public, SECRET_A) == key
    with pytest.raises(WatermarkKeyMismatchError) as wrong_secret:
        WatermarkKey.from_public_dict(public, SECRET_B)
    assert not _leaks(SECRET_B, str(wrong_secret.value)) and not _leaks(SECRET_A, str(wrong_secret.value))
    for field, value in [("gamma", 0.5), ("delta", 1.0), ("scheme", "lefthash"), ("tokenizer_fingerprint", "0" * 32)]:
        with pytest.raises(WatermarkKeyMismatchError):
            WatermarkKey.from_public_dict({**public, field: value}, SECRET_A)


def test_wrong_tokenizer_is_refused_by_detector_and_processor(tokenizer):
    other = quick_tokenizer(seed=7, vocab_size=400)
    assert tokenizer_fingerprint(other) != tokenizer_fingerprint(tokenizer)
    key = make_key(tokenizer)
    with pytest.raises(WatermarkKeyMismatchError, match="tokenizer"):
        WatermarkDetector(other, [key])
    with pytest.raises(WatermarkKeyMismatchError):
        WatermarkLogitsProcessor(key, other)


def test_fingerprint_changes_when_tokens_are_added():
    from generator.bootstrap.tokenizer import train_tokenizer
    from testkit.texts import synthetic_paragraphs

    fresh = train_tokenizer(synthetic_paragraphs(100), vocab_size=300, context_length=64)
    before = tokenizer_fingerprint(fresh)
    fresh.add_tokens(["<extra-token>"])
    assert tokenizer_fingerprint(fresh) != before


@pytest.mark.parametrize("kwargs, message", [
    ({"secret": b"short"}, "at least 16 bytes"),
    ({"gamma": 0.0}, "gamma"),
    ({"gamma": 1.0}, "gamma"),
    ({"delta": -1.0}, "delta"),
    ({"delta": float("nan")}, "delta"),
    ({"scheme": "minhash"}, "unknown watermark scheme"),
])
def test_invalid_key_parameters_are_rejected_without_echoing_the_secret(tokenizer, kwargs, message):
    params = {"secret": SECRET_A, "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer), **kwargs}
    with pytest.raises(ValueError, match=message) as error:
        WatermarkKey(**params)
    assert not _leaks(SECRET_A, str(error.value))


def test_secret_must_be_bytes(tokenizer):
    with pytest.raises(TypeError):
        WatermarkKey(secret="not bytes", tokenizer_fingerprint=tokenizer_fingerprint(tokenizer))  # type: ignore[arg-type]


def test_hf_keys_need_vocab_size_and_are_detection_only(tokenizer):
    with pytest.raises(ValueError, match="vocab_size"):
        WatermarkKey(secret=b"15485863", tokenizer_fingerprint=tokenizer_fingerprint(tokenizer), scheme="hf-lefthash")
    key = WatermarkKey.for_transformers(tokenizer, vocab_size=len(tokenizer))
    assert key.scheme == "hf-lefthash" and key.to_public_dict()["vocab_size"] == len(tokenizer)
    with pytest.raises(WatermarkError, match="detection-only"):
        WatermarkLogitsProcessor(key, tokenizer)


def test_generate_makes_fresh_keys(tokenizer):
    first, second = WatermarkKey.generate(tokenizer), WatermarkKey.generate(tokenizer)
    assert first.key_id != second.key_id and first.scheme == "unigram" and first.gamma == 0.25
