"""CSV cells a spreadsheet shows as text: formulas neutralised, nothing lost (pure).

A cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return, OWASP's list) gets a leading apostrophe, which spreadsheets show as text and do
not display; a cell that already starts with an apostrophe gets one too, so :func:`restore` gives
back exactly what was written.  Every CSV cirt writes (``cirt export --format csv``, ``cirt
report --format csv``) passes its text through :func:`neutralise`.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def neutralise(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def restore(text: str) -> str:
    return text[1:] if text.startswith("'") else text
