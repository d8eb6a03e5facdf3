"""Split long documents into overlapping chunks and map chunk offsets back to the document.

spaCy refuses texts over ``nlp.max_length`` and its memory grows with document length, so a 5 MB dump is
analysed as ~20,000-character chunks overlapping by ``overlap`` characters. Each chunk *owns* the part of the
document between the midpoints of its overlaps; an entity is kept only by the chunk that owns its start, and
only if it does not touch the chunk's cut edge (where it could be truncated). With an overlap of 400
characters, every entity shorter than ~200 characters is seen whole by its owning chunk, so an entity that
straddles a boundary is reported exactly once with exact offsets.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    start: int  # document offset of the chunk's first character
    end: int
    own_start: int  # document offsets this chunk is responsible for
    own_end: int


def _cut(text: str, position: int, floor: int) -> int:
    """A cut at whitespace near ``position`` (searching back to ``floor``), else exactly at ``position``."""
    for index in range(position, floor, -1):
        if text[index - 1].isspace():
            return index
    return position


def plan_chunks(text: str, size: int, overlap: int) -> list[Chunk]:
    """Chunks of at most ``size`` characters; consecutive chunks share at least ``overlap`` characters."""
    length = len(text)
    if length <= size:
        return [Chunk(0, length, 0, length)]
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(length, start + size)
        if end < length:
            end = _cut(text, end, start + size // 2)
        spans.append((start, end))
        if end >= length:
            break
        start = _cut(text, end - overlap, end - 2 * overlap)
    chunks = []
    for index, (start, end) in enumerate(spans):
        own_start = 0 if index == 0 else (start + spans[index - 1][1]) // 2
        own_end = length if index == len(spans) - 1 else (spans[index + 1][0] + end) // 2
        chunks.append(Chunk(start, end, own_start, own_end))
    return chunks


def keep_in_chunk(chunk: Chunk, start: int, end: int, document_length: int) -> bool:
    """Whether an entity at document offsets [start, end) found in ``chunk`` is this chunk's to report."""
    if not chunk.own_start <= start < chunk.own_end:
        return False
    return not (end >= chunk.end and chunk.end < document_length)
