"""Playbooks: what to do, whom to tell by when, and when to escalate, per kind of incident.

Pure: no store, no clock of its own, no CLI.  A playbook is one hand-written YAML file in the
workspace's ``playbooks/`` folder (its name is the file name); ``_escalation.yaml`` in the same
folder holds what is common to every incident: the triggers that hold whatever the category, the
duties of each escalation level and the sectors counted as critical infrastructure.

Escalation triggers are small declarative conditions over a fixed set of incident facts
(:data:`FIELDS`); a condition that names anything else is refused when the file is loaded, so a
typo can never silently turn a trigger off.  Every error is one line ``file:line: field: reason``.
Deadlines are instants in UTC: an offset is elapsed time (24h is 24 hours even across a daylight
saving change); only the display converts to the CIRT's time zone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from cirt.community import INDUSTRY_SECTORS
from cirt.errors import ConfigError, NotFound
from cirt.incidents import (
    ALL_CATEGORIES,
    DETERMINATIONS,
    ESCALATION_LEVELS,
    RSIT_CATEGORIES,
    SEVERITIES,
    STATUSES,
    Answer,
    Phase,
)
from cirt.stixtime import format_duration, parse_duration
from cirt.tlp import TLP_NAMES
from cirt.yamlfile import LocatedYaml, Location, load_yaml

ESCALATION_FILE = "_escalation.yaml"
AFFECTED = "affected"  # a duty's party: each organisation the incident affects
DEFAULT_CRITICAL_SECTORS = ("energy", "utilities", "water", "dams", "nuclear", "telecommunications",
                            "financial-services", "healthcare", "emergency-services",
                            "government-national", "transportation", "infrastructure")

# --------------------------------------------------------------------------------------------
# Durations


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

# --------------------------------------------------------------------------------------------
# Facts and conditions


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


def build_facts(*, severity: str, category: str, status: str, determination: str, tlp: str,
                escalation_level: str, organisations: Iterable[str],
                sector_of: Mapping[str, str], critical_sectors: Iterable[str],
                foreign_infrastructure: bool = False, partner_constituency: bool = False) -> Facts:
    """Facts from an incident's fields and the community's organisation -> sector map."""
    orgs = frozenset(organisations)
    sectors = frozenset(sector_of[o] for o in orgs if o in sector_of)
    return Facts(severity=severity, category=category, status=status,
                 determination=determination, tlp=tlp, escalation_level=escalation_level,
                 organisations=orgs, sectors=sectors,
                 critical_infrastructure=bool(sectors & set(critical_sectors)),
                 foreign_infrastructure=foreign_infrastructure,
                 partner_constituency=partner_constituency)


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
    "escalation_level": FieldSpec("ordinal", ESCALATION_LEVELS,
                                  "sector < national < coordinator < international"),
    "category": FieldSpec("text", _category_values(),
                          "an RSIT class:type, or a class for any of its types"),
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


class _Bad(Exception):
    """A condition error at a location inside the file."""

    def __init__(self, loc: Location, reason: str) -> None:
        super().__init__(reason)
        self.loc, self.reason = loc, reason


def compile_condition(raw: object, loc: Location = (),
                      organisations: Iterable[str] | None = None) -> Condition:
    """Turn ``{severity: {at_least: high}, any: [...]}`` into a :class:`Condition`.

    ``organisations``, when given, is the set of ids an ``organisations`` test may name.
    """
    known_orgs = frozenset(organisations) if organisations is not None else None
    return _compile(raw, loc, known_orgs)


def _compile(raw: object, loc: Location, orgs: frozenset[str] | None) -> Condition:
    if not isinstance(raw, dict) or not raw:
        raise _Bad(loc, "a condition is a mapping such as {severity: {at_least: high}}")
    parts: list[Condition] = []
    for key, value in raw.items():
        here = (*loc, key)
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                raise _Bad(here, f"'{key}' takes a non-empty list of conditions")
            subs = tuple(_compile(v, (*here, i), orgs) for i, v in enumerate(value))
            parts.append(AllOf(subs) if key == "all" else AnyOf(subs))
        elif key == "not":
            parts.append(Not(_compile(value, here, orgs)))
        elif key in FIELDS:
            parts.extend(_tests(str(key), value, here, orgs))
        else:
            raise _Bad(here, f"unknown field '{key}' (known: {', '.join(FIELDS)}; "
                             "or all/any/not)")
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _tests(name: str, value: object, loc: Location, orgs: frozenset[str] | None) -> list[Test]:
    spec = FIELDS[name]
    if not isinstance(value, dict):
        op = "contains" if spec.kind == "set" else "equals"
        return [Test(name, op, _operand(name, spec, op, value, loc, orgs))]
    if not value:
        raise _Bad(loc, f"no test given (use one of: {', '.join(OPERATORS[spec.kind])})")
    out = []
    for op, operand in value.items():
        if op not in OPERATORS[spec.kind]:
            raise _Bad((*loc, op), f"'{op}' does not apply to {name} "
                                   f"(use one of: {', '.join(OPERATORS[spec.kind])})")
        out.append(Test(name, str(op), _operand(name, spec, str(op), operand, (*loc, op), orgs)))
    return out


def _operand(name: str, spec: FieldSpec, op: str, value: object, loc: Location,
             orgs: frozenset[str] | None) -> Any:
    if op in ("in", "not_in", "contains_any", "none_of"):
        if not isinstance(value, list) or not value:
            raise _Bad(loc, f"'{op}' takes a non-empty list")
        return tuple(_scalar(name, spec, v, (*loc, i), orgs) for i, v in enumerate(value))
    return _scalar(name, spec, value, loc, orgs)


def _scalar(name: str, spec: FieldSpec, value: object, loc: Location,
            orgs: frozenset[str] | None) -> Any:
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise _Bad(loc, f"{name} is true or false")
        return value
    if spec.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _Bad(loc, f"{name} is compared with a whole number")
        return value
    if not isinstance(value, str):
        raise _Bad(loc, f"{name} is compared with text, not {type(value).__name__}")
    text = value.strip().lower()
    if name == "tlp":
        text = text.removeprefix("tlp:")
    if spec.vocabulary and text not in spec.vocabulary:
        shown = spec.vocabulary if len(spec.vocabulary) <= 12 else (*spec.vocabulary[:12], "…")
        raise _Bad(loc, f"'{value}' is not a {name} value (known: {', '.join(shown)})")
    if name == "organisations" and orgs is not None and text not in orgs:
        raise _Bad(loc, f"organisation '{value}' is not in sectors.yaml")
    return text


# --------------------------------------------------------------------------------------------
# The file schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Level = Literal["sector", "national", "coordinator", "international"]


def _answer(value: object) -> object:
    """YAML 1.1 reads an unquoted yes/no as a boolean: take it back as the answer meant."""
    return {True: "yes", False: "no"}.get(value, value) if isinstance(value, bool) else value


AnswerField = Annotated[Answer | None, BeforeValidator(_answer)]


class TaskSpec(_Strict):
    """Something the responders do, due ``due`` after opening (or after task ``after`` is done).

    A ``decision`` task is a question, done with an answer (yes, no, not-applicable); an item
    after it with ``on_answer: yes`` starts its clock only on that answer and is not needed
    otherwise.
    """

    id: Slug
    phase: Phase
    title: Text
    description: str = ""
    due: Duration
    after: Slug | None = None
    on_answer: AnswerField = None
    decision: bool = False
    owner: Slug = "duty-officer"
    priority: int = Field(50, ge=0, le=100)
    when: dict[str, Any] | None = None


class DutySpec(_Strict):
    """Somebody to tell, by when: a party of sectors.yaml (or ``affected``) and a contact role.

    A party is told once: the duty is not added when the incident already has one to the same
    party and role (from its playbook or a lower level), unless ``repeat`` (a new message, such
    as "the national CIRT now leads").
    """

    id: Slug
    party: Slug
    role: Slug | None = None
    title: Text
    description: str = ""
    due: Duration
    after: Slug | None = None
    on_answer: AnswerField = None
    repeat: bool = False
    when: dict[str, Any] | None = None


class EvidenceSpec(_Strict):
    id: Slug
    title: Text
    description: str = ""
    handling: str = ""


class TriggerSpec(_Strict):
    level: Level
    reason: Text
    when: dict[str, Any]


class AppliesTo(_Strict):
    categories: tuple[str, ...] = Field(min_length=1)
    sectors: tuple[str, ...] = ()


class PlaybookFile(_Strict):
    title: Text
    summary: Text
    version: int = Field(1, ge=1)
    applies_to: AppliesTo
    tasks: tuple[TaskSpec, ...] = Field(min_length=1)
    duties: tuple[DutySpec, ...] = ()
    evidence: tuple[EvidenceSpec, ...] = ()
    triggers: tuple[TriggerSpec, ...] = ()
    references: tuple[str, ...] = ()


class LevelSpec(_Strict):
    summary: Text
    duties: tuple[DutySpec, ...] = ()


class EscalationFile(_Strict):
    critical_sectors: tuple[str, ...] = DEFAULT_CRITICAL_SECTORS
    triggers: tuple[TriggerSpec, ...] = ()
    levels: dict[Level, LevelSpec] = {}


# --------------------------------------------------------------------------------------------
# Loaded playbooks


@dataclass(frozen=True)
class Trigger:
    level: str
    reason: str
    condition: Condition
    source: str  # the playbook name, or "_escalation"

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level, "reason": self.reason, "condition": self.condition.describe(),
                "source": self.source}


@dataclass(frozen=True)
class Playbook:
    name: str
    path: str
    spec: PlaybookFile
    conditions: Mapping[str, Condition]  # task/duty id -> its compiled ``when``
    triggers: tuple[Trigger, ...]

    def applies_to(self, category: str, sectors: Iterable[str]) -> bool:
        """The category matches (exactly, or its RSIT class) and, if the playbook names
        sectors, one of the incident's sectors is among them."""
        wanted = self.spec.applies_to
        if not any(category == c or category.startswith(c + ":") for c in wanted.categories):
            return False
        return not wanted.sectors or bool(set(wanted.sectors) & set(sectors))

    def summary(self) -> dict[str, Any]:
        spec = self.spec
        return {"name": self.name, "title": spec.title, "version": spec.version,
                "categories": list(spec.applies_to.categories),
                "sectors": list(spec.applies_to.sectors), "tasks": len(spec.tasks),
                "duties": len(spec.duties), "evidence": len(spec.evidence),
                "triggers": len(spec.triggers), "path": self.path, "valid": True}

    def as_dict(self) -> dict[str, Any]:
        out = self.summary()
        out["summary"] = self.spec.summary
        out["task_list"] = [_item_dict(t, self.conditions) for t in self.spec.tasks]
        out["duty_list"] = [_item_dict(d, self.conditions) for d in self.spec.duties]
        out["evidence_list"] = [e.model_dump() for e in self.spec.evidence]
        out["trigger_list"] = [t.as_dict() for t in self.triggers]
        out["references"] = list(self.spec.references)
        return out


def _item_dict(item: TaskSpec | DutySpec, conditions: Mapping[str, Condition]) -> dict[str, Any]:
    data = item.model_dump(exclude={"when"})
    data["due"] = format_duration(item.due)
    if item.id in conditions:
        data["when"] = conditions[item.id].describe()
    return data


@dataclass(frozen=True)
class Escalation:
    """``_escalation.yaml``: common triggers, level duties, the critical sectors."""

    path: str | None
    critical_sectors: tuple[str, ...]
    triggers: tuple[Trigger, ...]
    levels: Mapping[str, LevelSpec]
    conditions: Mapping[str, Condition]

    def duties_for(self, level: str) -> tuple[DutySpec, ...]:
        spec = self.levels.get(level)
        return spec.duties if spec else ()


NO_ESCALATION_FILE = Escalation(None, DEFAULT_CRITICAL_SECTORS, (), {}, {})


@dataclass(frozen=True)
class Broken:
    """A playbook file that failed to load: listed as invalid, never used."""

    name: str
    path: str
    error: ConfigError

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "valid": False, "error": str(self.error)}


@dataclass(frozen=True)
class Library:
    """Every playbook in a folder; a broken file is kept aside and affects no other."""

    folder: str
    playbooks: Mapping[str, Playbook]
    broken: tuple[Broken, ...]
    escalation: Escalation
    escalation_error: ConfigError | None = None

    def category_words(self) -> dict[str, str]:
        """Each playbook's name as a plain word for the first category it applies to."""
        return {name: playbook.spec.applies_to.categories[0]
                for name, playbook in self.playbooks.items()}

    def get(self, name: str) -> Playbook:
        if name in self.playbooks:
            return self.playbooks[name]
        for bad in self.broken:
            if bad.name == name:
                raise bad.error
        known = ", ".join(self.playbooks) or "none"
        raise NotFound(f"no playbook '{name}' in {self.folder} (known: {known})")

    def matching(self, category: str, sectors: Iterable[str]) -> list[Playbook]:
        """The playbooks that apply, best first: one naming the exact category before one
        naming its class, a narrower one (fewer categories) before a broader one, one written
        for the incident's sector before a general one."""
        sectors = set(sectors)
        found = [p for p in self.playbooks.values() if p.applies_to(category, sectors)]
        return sorted(found, key=lambda p: (
            category not in p.spec.applies_to.categories, len(p.spec.applies_to.categories),
            not p.spec.applies_to.sectors, p.name))

    @property
    def errors(self) -> list[ConfigError]:
        found = [b.error for b in self.broken]
        return [self.escalation_error, *found] if self.escalation_error else found

    def all_triggers(self, playbook_names: Iterable[str]) -> list[Trigger]:
        """The common triggers plus those of the named playbooks (those applied to an incident)."""
        out = list(self.escalation.triggers)
        for name in playbook_names:
            if name in self.playbooks:
                out.extend(self.playbooks[name].triggers)
        return out


def _pydantic_error(located: LocatedYaml, exc: ValidationError) -> ConfigError:
    first = exc.errors()[0]
    loc = tuple(p for p in first["loc"] if isinstance(p, str | int))
    kind = first["type"]
    if kind == "extra_forbidden":
        reason = "unknown key"
        allowed = _allowed_keys(loc[:-1])
        if allowed:
            reason += f" (allowed: {', '.join(allowed)})"
    elif kind == "missing":
        reason = "missing required field"
    elif kind == "literal_error":
        reason = first["msg"].replace("Input should be", "must be")
    else:
        reason = first["msg"].removeprefix("Value error, ")
    return located.error(loc, reason)


def _allowed_keys(loc: Location) -> list[str]:
    """The keys allowed at ``loc`` in a playbook or escalation file, for the error message."""
    models: dict[str, type[BaseModel]] = {"applies_to": AppliesTo, "tasks": TaskSpec,
                                          "duties": DutySpec, "evidence": EvidenceSpec,
                                          "triggers": TriggerSpec, "levels": LevelSpec}
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return []
    model = models.get(names[-1])
    if names[-1] in ESCALATION_LEVELS and len(names) >= 2 and names[-2] == "levels":
        model = LevelSpec
    return list(model.model_fields) if model else []


def _compile_items(located: LocatedYaml, items: Sequence[TaskSpec | DutySpec], key: str,
                   orgs: frozenset[str] | None) -> dict[str, Condition]:
    out: dict[str, Condition] = {}
    for i, item in enumerate(items):
        if item.when is not None:
            out[item.id] = _located_condition(located, item.when, (key, i, "when"), orgs)
    return out


def _compile_triggers(located: LocatedYaml, triggers: Sequence[TriggerSpec], source: str,
                      orgs: frozenset[str] | None, key: Location = ("triggers",)
                      ) -> tuple[Trigger, ...]:
    return tuple(
        Trigger(t.level, t.reason,
                _located_condition(located, t.when, (*key, i, "when"), orgs), source)
        for i, t in enumerate(triggers))


def _located_condition(located: LocatedYaml, raw: object, loc: Location,
                       orgs: frozenset[str] | None) -> Condition:
    try:
        return _compile(raw, loc, orgs)
    except _Bad as bad:
        raise located.error(bad.loc, bad.reason) from None


def _check_duties(located: LocatedYaml, duties: Sequence[DutySpec], key: Location,
                  parties: frozenset[str] | None, anchors: frozenset[str]) -> None:
    for i, duty in enumerate(duties):
        if parties is not None and duty.party != AFFECTED and duty.party not in parties:
            raise located.error((*key, i, "party"),
                                f"'{duty.party}' is not a party in sectors.yaml "
                                f"(known: {', '.join(sorted(parties))}, or '{AFFECTED}')")
        if duty.after is not None and duty.after not in anchors:
            raise located.error((*key, i, "after"), f"'{duty.after}' is not a task or duty here")


def parse_playbook(located: LocatedYaml, *, parties: Iterable[str] | None = None,
                   organisations: Iterable[str] | None = None) -> Playbook:
    """Validate one parsed playbook; ``parties``/``organisations`` check references to
    sectors.yaml when given."""
    if not isinstance(located.data, dict):
        raise located.error((), "a playbook is a mapping with title, summary, applies_to, tasks")
    try:
        spec = PlaybookFile.model_validate(located.data)
    except ValidationError as exc:
        raise _pydantic_error(located, exc) from None
    for i, category in enumerate(spec.applies_to.categories):
        if category not in ALL_CATEGORIES and category not in RSIT_CATEGORIES:
            raise located.error(("applies_to", "categories", i),
                                f"'{category}' is not an RSIT category or class "
                                "(e.g. fraud:phishing, malicious-code)")
    for i, sector in enumerate(spec.applies_to.sectors):
        if sector not in INDUSTRY_SECTORS:
            raise located.error(("applies_to", "sectors", i),
                                f"'{sector}' is not in the STIX industry-sector vocabulary")
    seen: set[str] = set()
    groups: tuple[tuple[str, Sequence[TaskSpec | DutySpec]], ...] = (
        ("tasks", spec.tasks), ("duties", spec.duties))
    for key, items in groups:
        for i, item in enumerate(items):
            if item.id in seen:
                raise located.error((key, i, "id"), f"duplicate id '{item.id}'")
            seen.add(item.id)
    anchors = frozenset(seen)
    for i, task in enumerate(spec.tasks):
        if task.after is not None and (task.after not in anchors or task.after == task.id):
            raise located.error(("tasks", i, "after"), f"'{task.after}' is not another task here")
    decisions = frozenset(t.id for t in spec.tasks if t.decision)
    for key, items in groups:
        for i, item in enumerate(items):
            if item.on_answer is not None and item.after not in decisions:
                raise located.error((key, i, "on_answer"), "'on_answer' names an answer of the "
                                    "decision task given in 'after' (one with decision: true)")
    party_set = frozenset(parties) if parties is not None else None
    orgs = frozenset(organisations) if organisations is not None else None
    _check_duties(located, spec.duties, ("duties",), party_set, anchors)
    conditions = {**_compile_items(located, spec.tasks, "tasks", orgs),
                  **_compile_items(located, spec.duties, "duties", orgs)}
    name = Path(located.path).stem
    triggers = _compile_triggers(located, spec.triggers, name, orgs)
    return Playbook(name, located.path, spec, conditions, triggers)


def parse_escalation(located: LocatedYaml, *, parties: Iterable[str] | None = None,
                     organisations: Iterable[str] | None = None) -> Escalation:
    if not isinstance(located.data, dict):
        raise located.error((), "_escalation.yaml is a mapping with triggers and levels")
    try:
        spec = EscalationFile.model_validate(located.data)
    except ValidationError as exc:
        raise _pydantic_error(located, exc) from None
    for i, sector in enumerate(spec.critical_sectors):
        if sector not in INDUSTRY_SECTORS:
            raise located.error(("critical_sectors", i),
                                f"'{sector}' is not in the STIX industry-sector vocabulary")
    party_set = frozenset(parties) if parties is not None else None
    orgs = frozenset(organisations) if organisations is not None else None
    conditions: dict[str, Condition] = {}
    for level, level_spec in spec.levels.items():
        ids = [d.id for d in level_spec.duties]
        for i, duty_id in enumerate(ids):
            if duty_id in ids[:i]:
                raise located.error(("levels", level, "duties", i, "id"),
                                    f"duplicate id '{duty_id}'")
        _check_duties(located, level_spec.duties, ("levels", level, "duties"), party_set,
                      frozenset(ids))
        for i, duty in enumerate(level_spec.duties):
            if duty.when is not None:
                conditions[f"{level}/{duty.id}"] = _located_condition(
                    located, duty.when, ("levels", level, "duties", i, "when"), orgs)
    triggers = _compile_triggers(located, spec.triggers, "_escalation", orgs)
    levels: dict[str, LevelSpec] = dict(spec.levels.items())
    return Escalation(located.path, spec.critical_sectors, triggers, levels, conditions)


def load_playbook(path: Path | str, *, parties: Iterable[str] | None = None,
                  organisations: Iterable[str] | None = None) -> Playbook:
    return parse_playbook(load_yaml(path), parties=parties, organisations=organisations)


def playbook_files(folder: Path) -> list[Path]:
    """The playbooks of a folder: every ``*.yaml``/``*.yml`` except ``_``-prefixed files."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.suffix in (".yaml", ".yml") and not p.name.startswith(("_", "."))
                  and p.is_file())


def load_library(folder: Path | str, *, parties: Iterable[str] | None = None,
                 organisations: Iterable[str] | None = None) -> Library:
    """Load a folder; each broken file is set aside with its one-line error."""
    root = Path(folder)
    party_list = list(parties) if parties is not None else None
    org_list = list(organisations) if organisations is not None else None
    good: dict[str, Playbook] = {}
    broken: list[Broken] = []
    for path in playbook_files(root):
        try:
            playbook = load_playbook(path, parties=party_list, organisations=org_list)
        except ConfigError as exc:
            broken.append(Broken(path.stem, str(path), exc))
            continue
        if playbook.name in good:
            broken.append(Broken(path.stem, str(path), ConfigError(
                str(path), None, "(file)", f"a playbook named '{playbook.name}' already exists "
                                           f"({good[playbook.name].path})")))
            continue
        good[playbook.name] = playbook
    escalation, escalation_error = NO_ESCALATION_FILE, None
    escalation_path = root / ESCALATION_FILE
    if escalation_path.exists():
        try:
            escalation = parse_escalation(load_yaml(escalation_path), parties=party_list,
                                          organisations=org_list)
        except ConfigError as exc:
            escalation_error = exc
    return Library(str(root), good, tuple(broken), escalation, escalation_error)


# --------------------------------------------------------------------------------------------
# Applying a playbook: planned items with deadlines


@dataclass(frozen=True)
class PlannedItem:
    """One task or duty to create for an incident, with its deadline if it is already known."""

    key: str  # "<playbook>/<id>" or "escalation:<level>/<id>": unique per incident
    kind: Literal["task", "duty"]
    title: str
    description: str
    phase: str  # a PHASES value for tasks; "notification" for duties
    offset: timedelta
    due: datetime | None  # None while waiting for ``after``
    after: str | None  # the key of the item whose completion starts the clock
    owner: str
    priority: int
    party: str | None = None
    role: str | None = None
    playbook: str | None = None
    level: str | None = None
    parties: tuple[str, ...] = field(default=())  # resolved: ``affected`` -> organisation ids
    decision: bool = False
    start_on: str | None = None  # the answer of ``after`` that starts the clock
    repeat: bool = False  # a duty added even if its party already has one


def _party_list(party: str, facts: Facts) -> tuple[str, ...]:
    return tuple(sorted(facts.organisations)) if party == AFFECTED else (party,)


def plan(playbook: Playbook, facts: Facts, opened: datetime) -> list[PlannedItem]:
    """The tasks and duties of ``playbook`` for an incident opened at ``opened`` (aware UTC).

    Items whose ``when`` does not hold for ``facts`` are left out; an item counted from another
    (``after``) has no deadline until that one is done (see :func:`due_after`).
    """
    out: list[PlannedItem] = []
    prefix = playbook.name + "/"
    for task in playbook.spec.tasks:
        condition = playbook.conditions.get(task.id)
        if condition is not None and not condition.holds(facts):
            continue
        out.append(PlannedItem(
            prefix + task.id, "task", task.title, task.description, task.phase, task.due,
            None if task.after else opened + task.due,
            prefix + task.after if task.after else None, task.owner, task.priority,
            playbook=playbook.name, decision=task.decision, start_on=task.on_answer))
    for duty in playbook.spec.duties:
        condition = playbook.conditions.get(duty.id)
        if condition is not None and not condition.holds(facts):
            continue
        out.append(_duty_item(duty, prefix, facts, opened, playbook=playbook.name))
    kept = {item.key for item in out}
    # An item waiting for one that was left out by its condition counts from opening instead.
    return [item if item.after is None or item.after in kept else
            _replace_due(item, opened + item.offset) for item in out]


def _duty_item(duty: DutySpec, prefix: str, facts: Facts, anchor: datetime, *,
               playbook: str | None = None, level: str | None = None) -> PlannedItem:
    return PlannedItem(
        prefix + duty.id, "duty", duty.title, duty.description, "notification", duty.due,
        None if duty.after else anchor + duty.due, prefix + duty.after if duty.after else None,
        "duty-officer", 90, party=duty.party, role=duty.role, playbook=playbook, level=level,
        parties=_party_list(duty.party, facts), start_on=duty.on_answer, repeat=duty.repeat)


def _replace_due(item: PlannedItem, due: datetime) -> PlannedItem:
    return replace(item, due=due, after=None, start_on=None)


def without_repeated_duties(items: Iterable[PlannedItem],
                            told: Iterable[tuple[str, str | None]]) -> list[PlannedItem]:
    """``items`` less the duties to a party (and contact role) the incident already has a duty
    towards, from its playbook or an earlier level: each is told once, unless the duty says
    ``repeat``.  A duty to several affected organisations keeps those not yet told."""
    seen = set(told)
    out: list[PlannedItem] = []
    for item in items:
        if item.kind != "duty" or item.repeat:
            seen.update((p, item.role) for p in item.parties)
            out.append(item)
            continue
        fresh = tuple(p for p in item.parties if (p, item.role) not in seen)
        if not fresh:
            continue
        seen.update((p, item.role) for p in fresh)
        out.append(item if fresh == item.parties else replace(item, parties=fresh))
    return out


def plan_escalation(escalation: Escalation, level: str, facts: Facts,
                    escalated: datetime) -> list[PlannedItem]:
    """The duties of an escalation level, counted from the moment of the escalation."""
    out = []
    prefix = f"escalation:{level}/"
    for duty in escalation.duties_for(level):
        condition = escalation.conditions.get(f"{level}/{duty.id}")
        if condition is not None and not condition.holds(facts):
            continue
        out.append(_duty_item(duty, prefix, facts, escalated, level=level))
    return out


def due_after(offset: timedelta, anchor_done: datetime) -> datetime:
    """The deadline of an item counted from the completion of another."""
    return anchor_done + offset


# --------------------------------------------------------------------------------------------
# Escalation triggers


@dataclass(frozen=True)
class Proposal:
    """An escalation the facts call for: the highest level any holding trigger asks for."""

    level: str
    reasons: tuple[Trigger, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "triggers": [t.as_dict() for t in self.reasons]}


def holding(triggers: Iterable[Trigger], facts: Facts) -> list[Trigger]:
    """The triggers whose condition holds, highest level first."""
    hits = [t for t in triggers if t.condition.holds(facts)]
    return sorted(hits, key=lambda t: -ESCALATION_LEVELS.index(t.level))


def propose(triggers: Sequence[Trigger], facts: Facts,
            before: Facts | None = None) -> Proposal | None:
    """The escalation to propose: triggers holding now for a level above the current one.

    With ``before`` (the previous version's facts), only triggers that became true with the
    change count: the analyst is told once, when an update makes a trigger true.
    """
    current = ESCALATION_LEVELS.index(facts.escalation_level)
    hits = [t for t in holding(triggers, facts) if ESCALATION_LEVELS.index(t.level) > current]
    if before is not None:
        hits = [t for t in hits if not t.condition.holds(before)]
    if not hits:
        return None
    top = max(hits, key=lambda t: ESCALATION_LEVELS.index(t.level)).level
    return Proposal(top, tuple(hits))
