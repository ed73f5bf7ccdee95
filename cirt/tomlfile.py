"""Reading config.toml with the line of every table and key, as yamlfile.py does for YAML.

tomllib parses but keeps no positions, so the lines are found from the raw text: table headers
(``[smtp]``) and key lines (``port = 25``, ``smtp.port = 25``, ``"port" = 25``), skipping the
inside of multi-line strings.  tomllib remains the one parser; the lines only point at the fix.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cirt.errors import ConfigError

Location = tuple[str, ...]

_KEY_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_HEADER = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGNMENT = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_KEY_PART)
_AT_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)$")


@dataclass
class LocatedToml:
    """A parsed document and the line (1-based) of each table and key, keyed by its path."""

    path: str
    data: dict[str, Any]
    lines: dict[Location, int] = field(default_factory=dict)

    def line_of(self, loc: Location) -> int | None:
        """The line of ``loc`` or of its nearest located parent."""
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return None

    def error(self, loc: Location, reason: str) -> ConfigError:
        return ConfigError(self.path, self.line_of(loc), ".".join(loc) or "(document)", reason)


def parse_toml(text: str, name: str) -> LocatedToml:
    """Parse TOML text; a syntax error is a ConfigError naming the file and its line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _AT_LINE.search(message)
        line = int(at.group(1)) if at else None
        raise ConfigError(name, line, "(syntax)", _AT_LINE.sub("", message)) from None
    return LocatedToml(name, data, _key_lines(text))


def load_toml(path: Path) -> LocatedToml:
    """Parse one TOML file; unreadable or non-UTF-8 bytes are a ConfigError too."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(str(path), None, "(file)", exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), None, "(file)", "not UTF-8 text") from None
    return parse_toml(text, str(path))


def _key_lines(text: str) -> dict[Location, int]:
    lines: dict[Location, int] = {}
    table: Location = ()
    open_quote: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if open_quote:
            if line.count(open_quote) % 2:
                open_quote = None
            continue
        header = _HEADER.match(line)
        if header:
            table = _parts(header.group(1))
            lines.setdefault(table, number)
            continue
        assignment = _ASSIGNMENT.match(line)
        if assignment:
            lines.setdefault((*table, *_parts(assignment.group(1))), number)
        for quote in ('"""', "'''"):
            if line.count(quote) % 2:
                open_quote = quote
    return lines


def _parts(dotted: str) -> Location:
    return tuple(part.strip("\"'") for part in _PART.findall(dotted))
