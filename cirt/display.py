"""Text for people: characters that hide or reorder what is read are shown, never obeyed.

Analysts, citizens and partners write the text cirt shows (titles, notes, patterns).  Control
characters can drive a terminal (ANSI escapes), bidirectional overrides make ``exe.txt`` read as
``txt.exe``, zero-width characters hide a difference between two names that look the same.
``visible`` replaces each of them with ``<U+XXXX>`` so the reader sees that it is there; line
feeds and tabs stay, since notes have lines.
"""

from __future__ import annotations

import re

# Unicode Cc (controls), Cf (format: bidi marks and overrides, zero-width, soft hyphen, tags),
# Zl and Zp (line and paragraph separators); checked against unicodedata by the tests.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)


def visible(text: str) -> str:
    """``text`` with every hidden or controlling character written as ``<U+XXXX>``."""
    if _HIDDEN.search(text) is None:
        return text
    return _HIDDEN.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)
