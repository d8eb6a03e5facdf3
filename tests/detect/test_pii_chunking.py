"""Long documents: overlapping chunks, offsets mapped back, an entity on a chunk boundary reported once."""

from __future__ import annotations

import pytest

from detect.pii import PIIConfig, get_analyzer
from detect.pii.chunking import keep_in_chunk, plan_chunks


def test_chunks_cover_the_text_and_overlap() -> None:
    text = "word " * 5000
    chunks = plan_chunks(text, 2000, 200)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    assert chunks[0].own_start == 0 and chunks[-1].own_end == len(text)
    for left, right in zip(chunks, chunks[1:], strict=False):
        assert left.end - right.start >= 200
        assert left.own_end == right.own_start
    assert all(c.end - c.start <= 2000 for c in chunks)


def test_each_position_is_owned_by_exactly_one_chunk() -> None:
    text = "x" * 9000  # no whitespace: cuts fall exactly at the size
    chunks = plan_chunks(text, 2000, 200)
    for position in range(0, len(text), 97):
        assert sum(keep_in_chunk(c, position, position + 5, len(text)) for c in chunks) == 1


@pytest.mark.parametrize("shift", range(-30, 31, 3))
def test_entity_on_a_chunk_boundary_is_found_once_with_exact_offsets(shift: int) -> None:
    analyzer = get_analyzer(PIIConfig(chunk_chars=2000, chunk_overlap=200))
    filler = "the quiet river ran past the old mill and on into the valley "
    email = "jane.doe@example.org"
    boundary = plan_chunks(filler * 200, 2000, 200)[0].end
    prefix = (filler * 200)[: boundary + shift]
    text = prefix + " " + email + " " + filler * 40
    entities = [e for e in analyzer.analyze(text) if e.type == "EMAIL_ADDRESS"]
    assert [(e.start, e.end) for e in entities] == [(len(prefix) + 1, len(prefix) + 1 + len(email))]


def test_long_document_offsets_are_exact() -> None:
    analyzer = get_analyzer(PIIConfig(chunk_chars=2000, chunk_overlap=200))
    pieces, expected = [], []
    for i in range(60):
        pieces.append("Some ordinary filler sentence about nothing much at all. " * 3)
        value = f"user{i}@example.com"
        start = sum(len(p) for p in pieces)
        pieces.append(value + " ")
        expected.append((start, start + len(value)))
    text = "".join(pieces)
    found = [(e.start, e.end) for e in analyzer.analyze(text) if e.type == "EMAIL_ADDRESS"]
    assert found == expected
