"""Watermark keys: a secret plus the public parameters it was used with, bound to one tokenizer.

The ``key_id`` is an HMAC-SHA256 of the public parameters under the secret, so it identifies a key (for
manifests, results and rotation) without revealing anything about the secret, and it changes whenever any
parameter changes: a key rebuilt with the wrong gamma, scheme or tokenizer no longer matches its recorded id.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
import secrets
import weakref
from dataclasses import dataclass, field
from typing import Any

from watermark.errors import WatermarkKeyMismatchError
from watermark.schemes import DEFAULT_GAMMA, DEFAULT_SCHEME, default_delta, get_scheme

KEY_FORMAT_VERSION = 1
MIN_SECRET_BYTES = 16
_FINGERPRINT_CACHE: weakref.WeakKeyDictionary[Any, tuple[int, str]] = weakref.WeakKeyDictionary()


def new_secret() -> bytes:
    """32 bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(32)


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """Short hex digest of the sorted vocabulary and the special tokens.

    Token ids are what the green list is computed from, so two tokenizers with the same fingerprint map the
    same ids to the same strings. Cached per tokenizer object (keyed by its current size, so added tokens
    invalidate it) because reading a 50k vocabulary costs tens of milliseconds.
    """
    size = len(tokenizer)
    try:
        cached = _FINGERPRINT_CACHE.get(tokenizer)
    except TypeError:  # not weak-referenceable
        cached = None
    if cached is not None and cached[0] == size:
        return cached[1]
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    specials = sorted(
        (str(token), int(token_id))
        for token, token_id in zip(tokenizer.all_special_tokens, tokenizer.all_special_ids, strict=False)
    )
    payload = json.dumps({"vocab": vocab, "special": specials}, ensure_ascii=True, separators=(",", ":"))
    digest = hashlib.sha256(payload.encode("ascii")).hexdigest()[:32]
    with contextlib.suppress(TypeError):  # not weak-referenceable: no cache
        _FINGERPRINT_CACHE[tokenizer] = (size, digest)
    return digest


@dataclass(frozen=True)
class WatermarkKey:
    """A secret and the parameters it watermarks with. The secret never appears in repr, str or to_public_dict.

    ``vocab_size`` is needed only by ``hf-lefthash`` (transformers permutes ``range(vocab_size)``); the native
    schemes hash token ids directly and work for any vocabulary size.
    """

    secret: bytes = field(repr=False)
    tokenizer_fingerprint: str
    gamma: float = 0.25
    delta: float = 2.0
    scheme: str = "selfhash"
    vocab_size: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes | bytearray):
            raise TypeError("WatermarkKey.secret must be bytes (use watermark.new_secret())")
        object.__setattr__(self, "secret", bytes(self.secret))
        spec = get_scheme(self.scheme)
        if spec.name != "hf-lefthash" and len(self.secret) < MIN_SECRET_BYTES:
            raise ValueError(f"a watermark secret needs at least {MIN_SECRET_BYTES} bytes; use new_secret()")
        if not (isinstance(self.gamma, int | float) and 0.0 < self.gamma < 1.0):
            raise ValueError(f"gamma must be in (0, 1), got {self.gamma!r}")
        if not (isinstance(self.delta, int | float) and math.isfinite(self.delta) and self.delta >= 0):
            raise ValueError(f"delta must be a finite number >= 0, got {self.delta!r}")
        if not self.tokenizer_fingerprint or not isinstance(self.tokenizer_fingerprint, str):
            raise ValueError("tokenizer_fingerprint is required (watermark.tokenizer_fingerprint(tokenizer))")
        if spec.name == "hf-lefthash":
            if self.vocab_size is None or self.vocab_size <= 0:
                raise ValueError("hf-lefthash keys need the model's vocab_size (transformers permutes range(V))")
            if int(self.vocab_size * self.gamma) <= 0:
                raise ValueError("gamma * vocab_size must leave at least one green token")
            try:
                int(self.secret.decode("ascii"))
            except ValueError:
                raise ValueError("hf-lefthash secrets are transformers' integer hashing_key as ASCII digits") from None
        object.__setattr__(self, "gamma", float(self.gamma))
        object.__setattr__(self, "delta", float(self.delta))

    @classmethod
    def generate(cls, tokenizer: Any, *, scheme: str = DEFAULT_SCHEME, gamma: float = DEFAULT_GAMMA,
                 delta: float | None = None) -> WatermarkKey:
        """A fresh random key for ``tokenizer``; ``delta`` None takes the scheme's default (3.0 for unigram, else
        2.0). Constructing ``WatermarkKey`` directly keeps the old field defaults (selfhash, 2.0), so code that
        rebuilds keys from explicit parameters is unchanged."""
        delta = default_delta(scheme) if delta is None else delta
        return cls(secret=new_secret(), tokenizer_fingerprint=tokenizer_fingerprint(tokenizer), gamma=gamma,
                   delta=delta, scheme=scheme)

    @classmethod
    def for_transformers(cls, tokenizer: Any, vocab_size: int, *, hashing_key: int = 15485863,
                         greenlist_ratio: float = 0.25, bias: float = 2.0) -> WatermarkKey:
        """The key equivalent of ``WatermarkingConfig(seeding_scheme="lefthash", ...)`` for a model with
        ``config.vocab_size == vocab_size`` (detection only)."""
        return cls(secret=str(int(hashing_key)).encode("ascii"), tokenizer_fingerprint=tokenizer_fingerprint(tokenizer),
                   gamma=greenlist_ratio, delta=bias, scheme="hf-lefthash", vocab_size=int(vocab_size))

    @property
    def spec(self):
        return get_scheme(self.scheme)

    def _public_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "version": KEY_FORMAT_VERSION,
            "scheme": self.scheme,
            "gamma": self.gamma,
            "delta": self.delta,
            "tokenizer_fingerprint": self.tokenizer_fingerprint,
        }
        if self.vocab_size is not None:
            params["vocab_size"] = int(self.vocab_size)
        return params

    @property
    def key_id(self) -> str:
        """``wm-`` plus 16 hex digits of HMAC-SHA256(secret, canonical public parameters)."""
        message = json.dumps(self._public_params(), sort_keys=True, separators=(",", ":")).encode("ascii")
        return "wm-" + hmac.new(self.secret, message, hashlib.sha256).hexdigest()[:16]

    def to_public_dict(self) -> dict[str, Any]:
        """Everything a manifest or dashboard may store: the parameters and key_id, never the secret."""
        return {"key_id": self.key_id, **self._public_params()}

    @classmethod
    def from_public_dict(cls, public: dict[str, Any], secret: bytes) -> WatermarkKey:
        """Rebuild a key from its stored public dict and its secret; refuses if they do not produce the key_id."""
        version = public.get("version", KEY_FORMAT_VERSION)
        if version != KEY_FORMAT_VERSION:
            raise WatermarkKeyMismatchError(f"unsupported watermark key format version {version!r}")
        key = cls(secret=secret, tokenizer_fingerprint=public["tokenizer_fingerprint"], gamma=public["gamma"],
                  delta=public["delta"], scheme=public["scheme"], vocab_size=public.get("vocab_size"))
        expected = public.get("key_id")
        if expected is not None and not hmac.compare_digest(str(expected), key.key_id):
            raise WatermarkKeyMismatchError(
                f"the secret or parameters do not reproduce key_id {expected}: wrong secret, or gamma/delta/scheme/"
                "tokenizer differ from the ones the key was made with")
        return key

    def check_tokenizer(self, tokenizer: Any) -> None:
        """Raise WatermarkKeyMismatchError unless ``tokenizer`` is the one this key was made for."""
        found = tokenizer_fingerprint(tokenizer)
        if found != self.tokenizer_fingerprint:
            raise WatermarkKeyMismatchError(
                f"watermark key {self.key_id} belongs to tokenizer {self.tokenizer_fingerprint}, but the tokenizer "
                f"given has fingerprint {found}; token ids would not mean the same thing")

    def __repr__(self) -> str:
        vocab = f", vocab_size={self.vocab_size}" if self.vocab_size is not None else ""
        return (f"WatermarkKey(key_id={self.key_id!r}, scheme={self.scheme!r}, gamma={self.gamma}, "
                f"delta={self.delta}, tokenizer_fingerprint={self.tokenizer_fingerprint!r}{vocab})")

    __str__ = __repr__
