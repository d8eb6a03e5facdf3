"""Small Markdown helpers shared by the generators (escaping table cells, code spans)."""

from __future__ import annotations

import json
import re
from typing import Any

CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def cell(value: Any) -> str:
    """One table cell: no line breaks, and pipes escaped so a help text cannot split the row. Pipes inside code
    spans stay as they are: Python-Markdown's tables do not split on them, and an escape would show."""
    text = " ".join(("" if value is None else str(value)).split())
    out, last = [], 0
    for match in CODE_SPAN.finditer(text):
        out += [text[last:match.start()].replace("|", "\\|"), match.group(0)]
        last = match.end()
    out.append(text[last:].replace("|", "\\|"))
    return "".join(out)


def code(value: Any) -> str:
    """A code span that survives backticks inside the value."""
    text = str(value)
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def json_block(value: Any) -> str:
    return "```json\n" + json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n```"
