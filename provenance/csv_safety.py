"""Cells that a spreadsheet will not run: CSV exports opened in Excel or LibreOffice are a formula-injection
target whenever a cell holds text someone else typed (the audit log records the name an *unauthenticated*
visitor typed into the sign-in form).

A cell whose first non-blank character starts a formula or a DDE call (``=``, ``+``, ``-``, ``@``, their
full-width forms, or a tab/CR/LF) is prefixed with an apostrophe, the OWASP-recommended neutraliser: every
spreadsheet shows it as text, and a reader of the raw CSV still sees the original value after the ``'``.
Numbers are left alone (a negative number is a number, not a formula).
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def is_live_formula(cell: str) -> bool:
    """Whether a spreadsheet could read ``cell`` (as parsed back from the CSV) as a formula."""
    stripped = cell.lstrip(" ")
    return bool(cell) and (cell[0] in FORMULA_STARTS or (bool(stripped) and stripped[0] in FORMULA_STARTS))


def spreadsheet_safe(value: Any) -> Any:
    """``value`` unchanged unless it is text that would start a formula; then ``'`` + the text."""
    if isinstance(value, str) and is_live_formula(value):
        return "'" + value
    return value
