"""Text normalisation before detection, with a map back to the caller's character offsets.

Cheap edits that leave text looking the same but change its tokens would otherwise erase the watermark:
decomposed accents (fixed by Unicode NFC), invisible characters (zero-width spaces/joiners, soft hyphens, bidi
controls: removed) and look-alike letters (Cyrillic/Greek capitals and small letters that render like Latin,
fullwidth and mathematical alphanumerics, exotic spaces: folded to ASCII). Typographic quotes and dashes are
left alone because models produce them legitimately.

NFC is applied per *cluster* (a character followed by the characters that can combine with it), so every
normalised character still knows which original characters it came from and a dashboard can highlight the
original text. ASCII input takes a zero-copy fast path.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u3164\ufeff\uffa0"
)
_CONFUSABLES = {
    # Cyrillic
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j",
    "ԁ": "d", "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "Ѕ": "S", "І": "I", "Ј": "J", "Ԛ": "Q", "Ԝ": "W", "Ү": "Y",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o",
    # Spaces that render like a space
    "\u00a0": " ", "\u2000": " ", "\u2001": " ", "\u2002": " ", "\u2003": " ", "\u2004": " ", "\u2005": " ",
    "\u2006": " ", "\u2007": " ", "\u2008": " ", "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u205f": " ",
    "\u3000": " ",
}


def _translation_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord(ch): None for ch in _INVISIBLE}
    table.update({ord(src): dst for src, dst in _CONFUSABLES.items()})
    for code in range(0xFF01, 0xFF5F):  # fullwidth ASCII
        table[code] = chr(code - 0xFEE0)
    for code in range(0x1D400, 0x1D800):  # mathematical alphanumerics
        folded = unicodedata.normalize("NFKC", chr(code))
        if len(folded) == 1 and folded.isascii():
            table[code] = folded
    return table


_TABLE = _translation_table()
_DELETED = np.array(sorted(code for code, value in _TABLE.items() if value is None), dtype=np.uint32)


def _char_class(codes: set[int] | list[int]) -> str:
    """A regex character class body with consecutive code points collapsed into ranges (a class of thousands of
    single characters makes ``re`` scan ~400x slower)."""
    parts: list[str] = []
    ordered = sorted(set(codes))
    index = 0
    while index < len(ordered):
        end = index
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        first, last = re.escape(chr(ordered[index])), re.escape(chr(ordered[end]))
        parts.append(first if end == index else f"{first}-{last}")
        index = end + 1
    return "".join(parts)


_NEEDS_FOLD = re.compile(f"[{_char_class(list(_TABLE))}]")


@lru_cache(maxsize=1)
def _nfc_cluster_pattern() -> re.Pattern[str]:
    """Regex of the substrings NFC can change: a character plus the characters that may combine with it,
    or a lone character NFC replaces. Built on first use (a scan of the Unicode planes in use, ~0.3 s)."""
    joiners: set[int] = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul medial/final jamo
    singletons: set[int] = set()
    ranges = list(range(0x0300, 0x30000)) + list(range(0xE0100, 0xE01F0))
    for code in ranges:
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        if unicodedata.combining(ch):
            joiners.add(code)
        decomposition = unicodedata.decomposition(ch)
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                joiners.add(int(parts[1], 16))
    for code in ranges:
        if 0xD800 <= code <= 0xDFFF or code in joiners:
            continue
        ch = chr(code)
        if unicodedata.normalize("NFC", ch) != ch:
            singletons.add(code)

    join = _char_class(joiners)
    return re.compile(f"[^{join}]?[{join}]+|[{_char_class(singletons)}]")


@dataclass(frozen=True)
class NormalizedText:
    """Normalised text and, per normalised character, the ``[start, end)`` span of original characters."""

    text: str
    original: str
    starts: np.ndarray | None  # None: identity mapping
    ends: np.ndarray | None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of the normalised slice ``[start, end)``."""
        if self.starts is None or self.ends is None:
            return start, end
        if end <= start:
            position = int(self.starts[start]) if start < len(self.starts) else len(self.original)
            return position, position
        return int(self.starts[start]), int(self.ends[end - 1])

    def original_spans(self, offsets: np.ndarray) -> np.ndarray:
        """Vectorised ``original_span`` for an ``(n, 2)`` array of normalised offsets."""
        if self.starts is None or self.ends is None or len(offsets) == 0:
            return offsets
        starts = np.append(self.starts, len(self.original))
        ends = np.append(self.ends, len(self.original))
        begin, finish = offsets[:, 0], offsets[:, 1]
        empty = finish <= begin
        mapped_end = np.where(empty, starts[begin], ends[np.maximum(finish - 1, 0)])
        return np.stack([starts[begin], mapped_end], axis=1)


@lru_cache(maxsize=65536)
def _nfc_cluster(cluster: str) -> str:
    return unicodedata.normalize("NFC", cluster)


def _nfc_with_map(text: str) -> tuple[str, np.ndarray, np.ndarray]:
    """NFC per cluster. Segments alternate between untouched gaps and clusters; a cluster whose length changed
    maps all its output characters to the whole original cluster, everything else maps one to one."""
    seg_begin: list[int] = []
    seg_end: list[int] = []
    pieces: list[str] = []
    cursor = 0
    for match in _nfc_cluster_pattern().finditer(text):
        begin, finish = match.span()
        if begin > cursor:
            seg_begin.append(cursor)
            seg_end.append(begin)
            pieces.append(text[cursor:begin])
        seg_begin.append(begin)
        seg_end.append(finish)
        pieces.append(_nfc_cluster(match.group()))
        cursor = finish
    if cursor < len(text):
        seg_begin.append(cursor)
        seg_end.append(len(text))
        pieces.append(text[cursor:])
    begins = np.asarray(seg_begin, dtype=np.int64)
    finishes = np.asarray(seg_end, dtype=np.int64)
    out_len = np.fromiter((len(piece) for piece in pieces), dtype=np.int64, count=len(pieces))
    same = out_len == finishes - begins
    out_start = np.cumsum(out_len) - out_len
    within = np.arange(int(out_len.sum()), dtype=np.int64) - np.repeat(out_start, out_len)
    starts = np.repeat(begins, out_len) + within * np.repeat(same, out_len)
    ends = np.where(np.repeat(same, out_len), starts + 1, np.repeat(finishes, out_len))
    return "".join(pieces), starts, ends


def normalize_with_offsets(text: str) -> NormalizedText:
    """NFC, invisible characters removed, homoglyphs folded; with the offset map back to ``text``."""
    if text.isascii():
        return NormalizedText(text, text, None, None)
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None
    current = text
    if not unicodedata.is_normalized("NFC", current):
        current, starts, ends = _nfc_with_map(current)
    if _NEEDS_FOLD.search(current):
        codes = np.frombuffer(current.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        kept = ~np.isin(codes, _DELETED)
        if starts is None or ends is None:
            starts = np.arange(len(current))
            ends = starts + 1
        starts, ends = starts[kept], ends[kept]
        current = current.translate(_TABLE)
    if starts is None:
        return NormalizedText(current, text, None, None)
    return NormalizedText(current, text, starts.astype(np.int64), ends.astype(np.int64))


def normalize_text(text: str) -> str:
    """The normalised text alone (what the detector tokenises)."""
    return normalize_with_offsets(text).text
