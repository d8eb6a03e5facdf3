"""Turn user input into token ids with character offsets, safely and in bounded time.

Input checks live here so the detector has one place that says what is acceptable: ``str`` or UTF-8 ``bytes``
(invalid UTF-8 and unpaired surrogates are refused with ``WatermarkInputError``, never half-decoded), and at
most ``max_chars`` characters. Long texts are tokenised in chunks cut just before a whitespace that follows a
non-space character: GPT-2's pre-tokeniser splits there anyway, so chunking does not change the tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np

from watermark.errors import WatermarkInputError

CHUNK_CHARS = 65_536


def special_token_ids(tokenizer: Any) -> list[int]:
    """Ids that never key a green list and are never scored: all special tokens, eos, bos and pad."""
    ids = {int(i) for i in getattr(tokenizer, "all_special_ids", []) or []}
    for name in ("eos_token_id", "bos_token_id", "pad_token_id"):
        value = getattr(tokenizer, name, None)
        if isinstance(value, int):
            ids.add(value)
    return sorted(ids)


def coerce_text(data: Any, max_chars: int) -> str:
    """A valid Unicode string from ``str``/``bytes`` input, or WatermarkInputError saying why not."""
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WatermarkInputError(
                f"input is not valid UTF-8 (byte {exc.start}: {exc.reason}); decode it or send text") from None
    elif isinstance(data, str):
        text = data
    else:
        raise WatermarkInputError(f"expected text (str or UTF-8 bytes), got {type(data).__name__}")
    if len(text) > max_chars:
        raise WatermarkInputError(f"text has {len(text):,} characters; the detector accepts at most {max_chars:,}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise WatermarkInputError(
            f"text contains an unpaired surrogate at character {exc.start}; it is not valid Unicode") from None
    return text


def _chunk_bounds(text: str, size: int) -> list[tuple[int, int]]:
    """Chunks of about ``size`` characters, each cut at the start of a whitespace run (the last one in the second
    half of the window), or hard at ``size`` when the window has no whitespace (one huge "word")."""
    bounds: list[tuple[int, int]] = []
    start = 0
    while len(text) - start > size:
        low, high = start + size // 2, start + size
        cut = max(text.rfind(" ", low, high), text.rfind("\n", low, high), text.rfind("\t", low, high))
        if cut <= low:
            cut = high
        else:
            while cut > low and text[cut - 1].isspace():
                cut -= 1
        bounds.append((start, cut))
        start = cut
    if start < len(text) or not bounds:
        bounds.append((start, len(text)))
    return bounds


@dataclass(frozen=True)
class TokenizedText:
    ids: np.ndarray  # int64
    offsets: np.ndarray | None  # (n, 2) character offsets into the tokenised string; None for slow tokenizers


def tokenize(tokenizer: Any, text: str, *, with_offsets: bool = True, chunk_chars: int = CHUNK_CHARS) -> TokenizedText:
    """Token ids (no special tokens added) and, if asked, their character offsets (converting offsets costs
    ~10% of the tokenisation time, so bulk scoring skips them)."""
    if not text:
        return TokenizedText(np.zeros(0, dtype=np.int64), np.zeros((0, 2), dtype=np.int64) if with_offsets else None)
    bounds = _chunk_bounds(text, chunk_chars)
    chunks = [text[a:b] for a, b in bounds]
    backend = getattr(tokenizer, "backend_tokenizer", None) if getattr(tokenizer, "is_fast", False) else None
    if backend is None:
        ids = [tokenizer.encode(chunk, add_special_tokens=False) for chunk in chunks]
        return TokenizedText(np.fromiter(chain.from_iterable(ids), dtype=np.int64), None)
    encodings = backend.encode_batch(chunks, add_special_tokens=False)
    all_ids = np.fromiter(chain.from_iterable(enc.ids for enc in encodings), dtype=np.int64)
    if not with_offsets:
        return TokenizedText(all_ids, None)
    offsets = [np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2) + start
               for enc, (start, _) in zip(encodings, bounds, strict=True)]
    return TokenizedText(all_ids, np.concatenate(offsets) if offsets else np.zeros((0, 2), dtype=np.int64))
