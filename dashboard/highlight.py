"""Evidence as HTML: PII spans by type, watermark green/red tokens and the windowed span, in one pass.

The three layers overlap arbitrarily, so the text is cut at every boundary of any layer and each piece
carries the classes of all layers covering it. Everything is HTML-escaped: the text is untrusted input.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

PII_COLORS = {"PERSON": "#f4a261", "EMAIL_ADDRESS": "#8ecae6", "PHONE_NUMBER": "#cdb4db", "LOCATION": "#e9c46a",
              "CREDIT_CARD": "#ff8fa3", "IBAN_CODE": "#ff8fa3", "US_SSN": "#ff8fa3", "IP_ADDRESS": "#90be6d",
              "URL": "#90be6d", "DATE_TIME": "#d9d9d9"}
DEFAULT_PII_COLOR = "#bdbdbd"

STYLE = """<style>
.ev-text { line-height: 2.0; font-size: 0.95rem; white-space: pre-wrap; word-wrap: break-word; }
.ev-text .wm-green { background: #c7f0c2; }
.ev-text .wm-red { background: #f6c9c9; }
.ev-text .pii { border: 2px solid var(--pii); border-radius: 3px; background: var(--pii); font-weight: 600; }
.ev-text .wm-span { border-top: 3px solid #1f4fd6; border-bottom: 3px solid #1f4fd6; }
.ev-text .badge { font-size: 0.62rem; padding: 0 3px; margin-right: 2px; border-radius: 3px;
                  background: var(--pii); vertical-align: super; }
.ev-legend span { margin-right: 0.8rem; padding: 0 4px; border-radius: 3px; font-size: 0.8rem; }
</style>"""


def _clip(start: Any, end: Any, length: int) -> tuple[int, int] | None:
    try:
        a, b = max(0, int(start)), min(length, int(end))
    except (TypeError, ValueError):
        return None
    return (a, b) if a < b else None


def evidence_html(text: str, pii: Sequence[dict[str, Any]] = (),
                  tokens: Sequence[tuple[int, int, bool | None]] = (),
                  spans: Sequence[tuple[int, int]] = ()) -> str:
    """HTML for ``text`` with PII entities (``{type,start,end,score}``), scored tokens ((start, end, green);
    green None = not scored) and watermarked spans, all in character offsets of ``text``."""
    length = len(text)
    pii_at: list[int] = [-1] * length
    token_at: list[int] = [-1] * length
    span_at = bytearray(length)
    entities = [e for e in pii if isinstance(e, dict)]
    for index, entity in enumerate(entities):
        clipped = _clip(entity.get("start"), entity.get("end"), length)
        if clipped:
            pii_at[clipped[0]:clipped[1]] = [index] * (clipped[1] - clipped[0])
    for index, (start, end, _green) in enumerate(tokens):
        clipped = _clip(start, end, length)
        if clipped:
            token_at[clipped[0]:clipped[1]] = [index] * (clipped[1] - clipped[0])
    for start, end in spans:
        clipped = _clip(start, end, length)
        if clipped:
            span_at[clipped[0]:clipped[1]] = b"\x01" * (clipped[1] - clipped[0])
    runs: list[tuple[int, str]] = []  # (entity index or -1, token-level HTML)
    position = 0
    while position < length:
        key = (pii_at[position], token_at[position], span_at[position])
        end = position + 1
        while end < length and (pii_at[end], token_at[end], span_at[end]) == key:
            end += 1
        runs.append((key[0], _token_piece(text[position:end], key, tokens)))
        position = end
    pieces = []
    index = 0
    while index < len(runs):  # one wrapper per entity, so a span cut into many tokens reads as one unit
        entity_index = runs[index][0]
        stop = index + 1
        while stop < len(runs) and runs[stop][0] == entity_index:
            stop += 1
        inner = "".join(piece for _, piece in runs[index:stop])
        pieces.append(inner if entity_index < 0 else _entity(entities[entity_index], inner))
        index = stop
    return f'{STYLE}<div class="ev-text">{"".join(pieces)}</div>'


def _token_piece(chunk: str, key: tuple[int, int, int], tokens: Sequence[tuple[int, int, bool | None]]) -> str:
    _, token_index, in_span = key
    classes = []
    if token_index >= 0 and tokens[token_index][2] is not None:
        classes.append("wm-green" if tokens[token_index][2] else "wm-red")
    if in_span:
        classes.append("wm-span")
    if not classes:
        return html.escape(chunk)
    return f'<span class="{" ".join(classes)}">{html.escape(chunk)}</span>'


def _entity(entity: dict[str, Any], inner: str) -> str:
    kind = html.escape(str(entity.get("type", "PII")))
    color = PII_COLORS.get(str(entity.get("type")), DEFAULT_PII_COLOR)
    score = entity.get("score")
    title = kind + (f" {float(score):.2f}" if isinstance(score, (int, float)) else "")
    return (f'<span class="badge" style="--pii: {color}">{kind}</span>'
            f'<span class="pii" data-pii="{kind}" title="{title}" style="--pii: {color}">{inner}</span>')


def legend_html(pii_types: Sequence[str]) -> str:
    """A one-line key for the colours on screen."""
    items = ['<span class="wm-green" style="background:#c7f0c2">green token</span>',
             '<span class="wm-red" style="background:#f6c9c9">red token</span>',
             '<span style="border-top:3px solid #1f4fd6;border-bottom:3px solid #1f4fd6">watermarked span</span>']
    for kind in sorted(set(pii_types)):
        color = PII_COLORS.get(kind, DEFAULT_PII_COLOR)
        items.append(f'<span style="background:{color}">{html.escape(kind)}</span>')
    return f'<div class="ev-legend">{"".join(items)}</div>'
