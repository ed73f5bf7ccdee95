"""The condition language of playbooks: what a trigger or a conditional task may look at.

Pure.  A condition is a small declarative mapping over a fixed set of incident facts
(:data:`FIELDS`), e.g. ``{severity: {at_least: high}, any: [...]}``; one that names anything
else is refused when it is compiled, so a typo can never silently turn a trigger off.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cirt.community import INDUSTRY_SECTORS
from cirt.incidents import (
    ALL_CATEGORIES,
    DETERMINATIONS,
    ESCALATION_LEVELS,
    RSIT_CATEGORIES,
    SEVERITIES,
    STATUSES,
)
from cirt.tlp import TLP_NAMES

Location = tuple[str | int, ...]  # keys and list positions inside a file, as cirt.yamlfile's


@dataclass(frozen=True)
class Facts:
    """What a trigger or a conditional task may look at: one incident, as the playbook sees it."""

    severity: str
    category: str
    status: str = "new"
    determination: str = "suspected"
    tlp: str = "amber"
    escalation_level: str = "sector"
    organisations: frozenset[str] = frozenset()
    sectors: frozenset[str] = frozenset()
    critical_infrastructure: bool = False
    foreign_infrastructure: bool = False
    partner_constituency: bool = False

    @property
    def organisation_count(self) -> int:
        return len(self.organisations)

    @property
    def sector_count(self) -> int:
        return len(self.sectors)

    def value(self, name: str) -> Any:
        return getattr(self, name)


def build_facts(
    *,
    severity: str,
    category: str,
    status: str,
    determination: str,
    tlp: str,
    escalation_level: str,
    organisations: Iterable[str],
    sector_of: Mapping[str, str],
    critical_sectors: Iterable[str],
    foreign_infrastructure: bool = False,
    partner_constituency: bool = False,
) -> Facts:
    """Facts from an incident's fields and the community's organisation -> sector map."""
    orgs = frozenset(organisations)
    sectors = frozenset(sector_of[o] for o in orgs if o in sector_of)
    return Facts(
        severity=severity,
        category=category,
        status=status,
        determination=determination,
        tlp=tlp,
        escalation_level=escalation_level,
        organisations=orgs,
        sectors=sectors,
        critical_infrastructure=bool(sectors & set(critical_sectors)),
        foreign_infrastructure=foreign_infrastructure,
        partner_constituency=partner_constituency,
    )


@dataclass(frozen=True)
class FieldSpec:
    kind: Literal["ordinal", "text", "set", "int", "bool"]
    vocabulary: tuple[str, ...] = ()
    help: str = ""


def _category_values() -> tuple[str, ...]:
    return (*ALL_CATEGORIES, *RSIT_CATEGORIES)


FIELDS: dict[str, FieldSpec] = {
    "severity": FieldSpec("ordinal", SEVERITIES, "low < medium < high < critical"),
    "tlp": FieldSpec("ordinal", TLP_NAMES, "clear < green < amber < amber+strict < red"),
    "escalation_level": FieldSpec(
        "ordinal", ESCALATION_LEVELS, "sector < national < coordinator < international"
    ),
    "category": FieldSpec("text", _category_values(), "an RSIT class:type, or a class for any of its types"),
    "status": FieldSpec("text", STATUSES),
    "determination": FieldSpec("text", DETERMINATIONS),
    "organisations": FieldSpec("set", (), "sectors.yaml organisation ids"),
    "sectors": FieldSpec("set", tuple(sorted(INDUSTRY_SECTORS)), "STIX industry sectors"),
    "organisation_count": FieldSpec("int"),
    "sector_count": FieldSpec("int"),
    "critical_infrastructure": FieldSpec("bool", (), "an affected sector is critical"),
    "foreign_infrastructure": FieldSpec("bool", (), "an indicator points outside the constituency"),
    "partner_constituency": FieldSpec("bool", (), "an indicator falls in a partner's constituency"),
}

OPERATORS: dict[str, tuple[str, ...]] = {
    "ordinal": ("equals", "in", "not_in", "at_least", "at_most"),
    "text": ("equals", "in", "not_in"),
    "set": ("contains", "contains_any", "none_of"),
    "int": ("equals", "at_least", "at_most"),
    "bool": ("equals",),
}


class Condition(ABC):
    """A compiled condition: ``holds(facts)`` and a sentence saying what it checks."""

    @abstractmethod
    def holds(self, facts: Facts) -> bool: ...

    @abstractmethod
    def describe(self) -> str: ...


@dataclass(frozen=True)
class Test(Condition):
    field: str
    op: str
    value: Any

    def holds(self, facts: Facts) -> bool:
        spec, actual = FIELDS[self.field], facts.value(self.field)
        if spec.kind == "ordinal":
            rank = spec.vocabulary.index
            if self.op == "at_least":
                return bool(rank(actual) >= rank(self.value))
            if self.op == "at_most":
                return bool(rank(actual) <= rank(self.value))
        if self.field == "category" and self.op in ("equals", "in", "not_in"):
            wanted = (self.value,) if self.op == "equals" else self.value
            hit = any(actual == v or actual.startswith(v + ":") for v in wanted)
            return hit if self.op != "not_in" else not hit
        return bool(_OPS[self.op](actual, self.value))

    def describe(self) -> str:
        value = ", ".join(map(str, self.value)) if isinstance(self.value, tuple) else self.value
        if isinstance(value, bool):
            return self.field.replace("_", " ") if value else f"not {self.field.replace('_', ' ')}"
        return f"{self.field} {self.op.replace('_', ' ')} {value}"


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda a, v: a == v,
    "in": lambda a, v: a in v,
    "not_in": lambda a, v: a not in v,
    "at_least": lambda a, v: a >= v,
    "at_most": lambda a, v: a <= v,
    "contains": lambda a, v: v in a,
    "contains_any": lambda a, v: bool(set(a) & set(v)),
    "none_of": lambda a, v: not set(a) & set(v),
}


@dataclass(frozen=True)
class AllOf(Condition):
    parts: tuple[Condition, ...]

    def holds(self, facts: Facts) -> bool:
        return all(p.holds(facts) for p in self.parts)

    def describe(self) -> str:
        return " and ".join(_paren(p) for p in self.parts)


@dataclass(frozen=True)
class AnyOf(Condition):
    parts: tuple[Condition, ...]

    def holds(self, facts: Facts) -> bool:
        return any(p.holds(facts) for p in self.parts)

    def describe(self) -> str:
        return " or ".join(_paren(p) for p in self.parts)


@dataclass(frozen=True)
class Not(Condition):
    part: Condition

    def holds(self, facts: Facts) -> bool:
        return not self.part.holds(facts)

    def describe(self) -> str:
        return f"not {_paren(self.part)}"


def _paren(cond: Condition) -> str:
    text = cond.describe()
    return f"({text})" if isinstance(cond, AllOf | AnyOf) and len(cond.parts) > 1 else text


class ConditionError(Exception):
    """A condition error at a location inside the file (the loader adds file and line)."""

    def __init__(self, loc: Location, reason: str) -> None:
        super().__init__(reason)
        self.loc, self.reason = loc, reason


def compile_condition(
    raw: object, loc: Location = (), organisations: Iterable[str] | None = None
) -> Condition:
    """Turn ``{severity: {at_least: high}, any: [...]}`` into a :class:`Condition`.

    ``organisations``, when given, is the set of ids an ``organisations`` test may name.
    """
    known_orgs = frozenset(organisations) if organisations is not None else None
    return _compile(raw, loc, known_orgs)


def _compile(raw: object, loc: Location, orgs: frozenset[str] | None) -> Condition:
    if not isinstance(raw, dict) or not raw:
        raise ConditionError(loc, "a condition is a mapping such as {severity: {at_least: high}}")
    parts: list[Condition] = []
    for key, value in raw.items():
        here = (*loc, key)
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                raise ConditionError(here, f"'{key}' takes a non-empty list of conditions")
            subs = tuple(_compile(v, (*here, i), orgs) for i, v in enumerate(value))
            parts.append(AllOf(subs) if key == "all" else AnyOf(subs))
        elif key == "not":
            parts.append(Not(_compile(value, here, orgs)))
        elif key in FIELDS:
            parts.extend(_tests(str(key), value, here, orgs))
        else:
            raise ConditionError(here, f"unknown field '{key}' (known: {', '.join(FIELDS)}; or all/any/not)")
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _tests(name: str, value: object, loc: Location, orgs: frozenset[str] | None) -> list[Test]:
    spec = FIELDS[name]
    if not isinstance(value, dict):
        op = "contains" if spec.kind == "set" else "equals"
        return [Test(name, op, _operand(name, spec, op, value, loc, orgs))]
    if not value:
        raise ConditionError(loc, f"no test given (use one of: {', '.join(OPERATORS[spec.kind])})")
    out = []
    for op, operand in value.items():
        if op not in OPERATORS[spec.kind]:
            raise ConditionError(
                (*loc, op), f"'{op}' does not apply to {name} (use one of: {', '.join(OPERATORS[spec.kind])})"
            )
        out.append(Test(name, str(op), _operand(name, spec, str(op), operand, (*loc, op), orgs)))
    return out


def _operand(
    name: str, spec: FieldSpec, op: str, value: object, loc: Location, orgs: frozenset[str] | None
) -> Any:
    if op in ("in", "not_in", "contains_any", "none_of"):
        if not isinstance(value, list) or not value:
            raise ConditionError(loc, f"'{op}' takes a non-empty list")
        return tuple(_scalar(name, spec, v, (*loc, i), orgs) for i, v in enumerate(value))
    return _scalar(name, spec, value, loc, orgs)


def _scalar(name: str, spec: FieldSpec, value: object, loc: Location, orgs: frozenset[str] | None) -> Any:
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ConditionError(loc, f"{name} is true or false")
        return value
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConditionError(loc, f"{name} is compared with a whole number")
        return value
    if not isinstance(value, str):
        raise ConditionError(loc, f"{name} is compared with text, not {type(value).__name__}")
    text = value.strip().lower()
    if name == "tlp":
        text = text.removeprefix("tlp:")
    if spec.vocabulary and text not in spec.vocabulary:
        shown = spec.vocabulary if len(spec.vocabulary) <= 12 else (*spec.vocabulary[:12], "…")
        raise ConditionError(loc, f"'{value}' is not a {name} value (known: {', '.join(shown)})")
    if name == "organisations" and orgs is not None and text not in orgs:
        raise ConditionError(loc, f"organisation '{value}' is not in sectors.yaml")
    return text
