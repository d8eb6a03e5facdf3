"""Text normalisation shared by every detector.

Layout is a property of the export pipeline, not of the author: one dump keeps paragraph breaks, another
joins lines with spaces. Detectors therefore see whitespace collapsed to single spaces (and Unicode in NFC),
so a line break never counts as evidence of machine authorship.
"""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")


def normalize_for_detection(text: str) -> str:
    """NFC, control characters dropped, whitespace runs collapsed to one space, ends stripped."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in text)
    return _WHITESPACE.sub(" ", text).strip()
