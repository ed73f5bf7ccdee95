"""Loading hand-written YAML (sectors.yaml, playbooks) safely and with line numbers.

Aliases are refused outright: they are what YAML bombs are made of, and a CIRT's configuration has
no need of them.  Every value is located, so a schema error can name the line a person must fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cirt.errors import ConfigError

MAX_YAML_BYTES = 2 * 1024 * 1024

Location = tuple[str | int, ...]


@dataclass
class LocatedYaml:
    """A parsed document and the line (1-based) where each value, keyed by its path, starts."""

    path: str
    data: Any
    lines: dict[Location, int] = field(default_factory=dict)

    def line_of(self, loc: Location) -> int | None:
        """The line of ``loc`` or of its nearest located parent."""
        while True:
            if loc in self.lines:
                return self.lines[loc]
            if not loc:
                return None
            loc = loc[:-1]

    def error(self, loc: Location, reason: str) -> ConfigError:
        return ConfigError(self.path, self.line_of(loc), dotted(loc) or "(document)", reason)


def dotted(loc: Location) -> str:
    """``('organisations', 2, 'contacts')`` -> ``organisations[2].contacts``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_yaml(path: Path | str) -> LocatedYaml:
    """Parse one YAML file; any problem becomes a ConfigError naming file and line."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(name, None, "(file)", exc.strerror or str(exc)) from None
    if len(raw) > MAX_YAML_BYTES:
        raise ConfigError(name, None, "(file)", f"larger than {MAX_YAML_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(name, None, "(file)", "not UTF-8 text") from None
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 20x faster
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1 if event.start_mark else None
                raise ConfigError(name, line, "(syntax)", "anchors and aliases are not allowed")
        node = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(name, line, "(syntax)", str(exc.problem or exc.context)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(name, None, "(syntax)", str(exc)) from None
    located = LocatedYaml(name, None)
    if node is not None:
        located.data = _construct(node, (), located, yaml.constructor.SafeConstructor())
    return located


def _construct(node: Any, loc: Location, out: LocatedYaml, scalars: Any) -> Any:
    out.lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise out.error(loc, "merge keys ('<<') are not allowed")
            key = _scalar(key_node, loc, out, scalars)
            if not isinstance(key, str | int):
                raise out.error(loc, "keys must be plain text")
            if key in result:
                raise ConfigError(
                    out.path, key_node.start_mark.line + 1, dotted((*loc, key)), "duplicate key"
                )
            result[key] = _construct(value_node, (*loc, key), out, scalars)
            out.lines[(*loc, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*loc, i), out, scalars) for i, item in enumerate(node.value)]
    return _scalar(node, loc, out, scalars)


def _scalar(node: Any, loc: Location, out: LocatedYaml, scalars: Any) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise out.error(loc, "keys must be plain text")
    try:
        return scalars.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise ConfigError(out.path, node.start_mark.line + 1, dotted(loc), str(exc)) from None
