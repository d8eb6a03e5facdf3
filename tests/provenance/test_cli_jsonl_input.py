"""The one ``--jsonl`` reader (``provenance.cli.inputs.read_text_records``) behind detect, toxicity, watermark
and pii: every bad line becomes an error naming its line, and the good lines around it still come through."""

from __future__ import annotations

import io

from provenance.cli.inputs import read_text_records

# Invented lines: they exercise each branch, not any data file.
LINES = [
    b'{"id": "a-1", "text": "an invented sentence"}\n',
    b"\n",
    b'{"text": "no id here"}\n',
    b"{not json\n",
    b'["a list", "not an object"]\n',
    b'{"id": 7, "text": 12}\n',
    b'{"id": "bad-bytes", "text": "caf\xc3"}\n',
]


def test_good_lines_pass_and_each_bad_line_names_its_line() -> None:
    rows = list(read_text_records(io.BytesIO(b"".join(LINES))))
    assert rows[0] == ("a-1", "an invented sentence", None)
    assert rows[1] == (2, "no id here", None)  # no id: its 0-based line number (the blank line is counted)
    number, text, error = rows[2]
    assert (number, text) == (3, None) and error.startswith("line 4: not valid JSON")
    assert rows[3][1] is None and rows[3][2].startswith("line 5: expected an object")
    assert rows[4] == (7, None, 'line 6: missing string field "text"')  # its own id is kept
    assert rows[5][1] is None and rows[5][2].startswith("line 7: not valid UTF-8")
    assert len(rows) == 6  # the blank line yields nothing
