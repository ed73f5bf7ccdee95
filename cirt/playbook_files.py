"""Playbook files: read and validate a folder of playbooks and its ``_escalation.yaml``.

The adapter between the YAML files and the playbook model (``cirt.playbook_model``): every
error is one line ``file:line: field: reason``, a condition naming an unknown field included,
and references to sectors.yaml (parties, organisations) are checked when they are given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ValidationError

from cirt.community import INDUSTRY_SECTORS
from cirt.errors import ConfigError
from cirt.incidents import ALL_CATEGORIES, ESCALATION_LEVELS, RSIT_CATEGORIES
from cirt.playbook_conditions import Condition, ConditionError, compile_condition
from cirt.playbook_model import AFFECTED, Broken, Escalation, Library, Playbook, Trigger
from cirt.playbook_schema import (
    DEFAULT_CRITICAL_SECTORS,
    AppliesTo,
    DutySpec,
    EscalationFile,
    EvidenceSpec,
    LevelSpec,
    PlaybookFile,
    TaskSpec,
    TriggerSpec,
)
from cirt.yamlfile import LocatedYaml, Location, load_yaml

ESCALATION_FILE = "_escalation.yaml"
NO_ESCALATION_FILE = Escalation(None, DEFAULT_CRITICAL_SECTORS, (), {}, {})


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
    models: dict[str, type[BaseModel]] = {
        "applies_to": AppliesTo,
        "tasks": TaskSpec,
        "duties": DutySpec,
        "evidence": EvidenceSpec,
        "triggers": TriggerSpec,
        "levels": LevelSpec,
    }
    names = [p for p in loc if isinstance(p, str)]
    if not names:
        return []
    model = models.get(names[-1])
    if names[-1] in ESCALATION_LEVELS and len(names) >= 2 and names[-2] == "levels":
        model = LevelSpec
    return list(model.model_fields) if model else []


def _compile_items(
    located: LocatedYaml, items: Sequence[TaskSpec | DutySpec], key: str, orgs: frozenset[str] | None
) -> dict[str, Condition]:
    out: dict[str, Condition] = {}
    for i, item in enumerate(items):
        if item.when is not None:
            out[item.id] = _located_condition(located, item.when, (key, i, "when"), orgs)
    return out


def _compile_triggers(
    located: LocatedYaml,
    triggers: Sequence[TriggerSpec],
    source: str,
    orgs: frozenset[str] | None,
    key: Location = ("triggers",),
) -> tuple[Trigger, ...]:
    return tuple(
        Trigger(t.level, t.reason, _located_condition(located, t.when, (*key, i, "when"), orgs), source)
        for i, t in enumerate(triggers)
    )


def _located_condition(
    located: LocatedYaml, raw: object, loc: Location, orgs: frozenset[str] | None
) -> Condition:
    try:
        return compile_condition(raw, loc, orgs)
    except ConditionError as bad:
        raise located.error(bad.loc, bad.reason) from None


def _check_duties(
    located: LocatedYaml,
    duties: Sequence[DutySpec],
    key: Location,
    parties: frozenset[str] | None,
    anchors: frozenset[str],
) -> None:
    for i, duty in enumerate(duties):
        if parties is not None and duty.party != AFFECTED and duty.party not in parties:
            raise located.error(
                (*key, i, "party"),
                f"'{duty.party}' is not a party in sectors.yaml "
                f"(known: {', '.join(sorted(parties))}, or '{AFFECTED}')",
            )
        if duty.after is not None and duty.after not in anchors:
            raise located.error((*key, i, "after"), f"'{duty.after}' is not a task or duty here")


def parse_playbook(
    located: LocatedYaml, *, parties: Iterable[str] | None = None, organisations: Iterable[str] | None = None
) -> Playbook:
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
            raise located.error(
                ("applies_to", "categories", i),
                f"'{category}' is not an RSIT category or class (e.g. fraud:phishing, malicious-code)",
            )
    for i, sector in enumerate(spec.applies_to.sectors):
        if sector not in INDUSTRY_SECTORS:
            raise located.error(
                ("applies_to", "sectors", i), f"'{sector}' is not in the STIX industry-sector vocabulary"
            )
    seen: set[str] = set()
    groups: tuple[tuple[str, Sequence[TaskSpec | DutySpec]], ...] = (
        ("tasks", spec.tasks),
        ("duties", spec.duties),
    )
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
                raise located.error(
                    (key, i, "on_answer"),
                    "'on_answer' names an answer of the "
                    "decision task given in 'after' (one with decision: true)",
                )
    party_set = frozenset(parties) if parties is not None else None
    orgs = frozenset(organisations) if organisations is not None else None
    _check_duties(located, spec.duties, ("duties",), party_set, anchors)
    conditions = {
        **_compile_items(located, spec.tasks, "tasks", orgs),
        **_compile_items(located, spec.duties, "duties", orgs),
    }
    name = Path(located.path).stem
    triggers = _compile_triggers(located, spec.triggers, name, orgs)
    return Playbook(name, located.path, spec, conditions, triggers)


def parse_escalation(
    located: LocatedYaml, *, parties: Iterable[str] | None = None, organisations: Iterable[str] | None = None
) -> Escalation:
    if not isinstance(located.data, dict):
        raise located.error((), "_escalation.yaml is a mapping with triggers and levels")
    try:
        spec = EscalationFile.model_validate(located.data)
    except ValidationError as exc:
        raise _pydantic_error(located, exc) from None
    for i, sector in enumerate(spec.critical_sectors):
        if sector not in INDUSTRY_SECTORS:
            raise located.error(
                ("critical_sectors", i), f"'{sector}' is not in the STIX industry-sector vocabulary"
            )
    party_set = frozenset(parties) if parties is not None else None
    orgs = frozenset(organisations) if organisations is not None else None
    conditions: dict[str, Condition] = {}
    for level, level_spec in spec.levels.items():
        ids = [d.id for d in level_spec.duties]
        for i, duty_id in enumerate(ids):
            if duty_id in ids[:i]:
                raise located.error(("levels", level, "duties", i, "id"), f"duplicate id '{duty_id}'")
        _check_duties(located, level_spec.duties, ("levels", level, "duties"), party_set, frozenset(ids))
        for i, duty in enumerate(level_spec.duties):
            if duty.when is not None:
                conditions[f"{level}/{duty.id}"] = _located_condition(
                    located, duty.when, ("levels", level, "duties", i, "when"), orgs
                )
    triggers = _compile_triggers(located, spec.triggers, "_escalation", orgs)
    levels: dict[str, LevelSpec] = dict(spec.levels.items())
    return Escalation(located.path, spec.critical_sectors, triggers, levels, conditions)


def load_playbook(
    path: Path | str, *, parties: Iterable[str] | None = None, organisations: Iterable[str] | None = None
) -> Playbook:
    return parse_playbook(load_yaml(path), parties=parties, organisations=organisations)


def playbook_files(folder: Path) -> list[Path]:
    """The playbooks of a folder: every ``*.yaml``/``*.yml`` except ``_``-prefixed files."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix in (".yaml", ".yml") and not p.name.startswith(("_", ".")) and p.is_file()
    )


def load_library(
    folder: Path | str, *, parties: Iterable[str] | None = None, organisations: Iterable[str] | None = None
) -> Library:
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
            broken.append(
                Broken(
                    path.stem,
                    str(path),
                    ConfigError(
                        str(path),
                        None,
                        "(file)",
                        f"a playbook named '{playbook.name}' already exists ({good[playbook.name].path})",
                    ),
                )
            )
            continue
        good[playbook.name] = playbook
    escalation, escalation_error = NO_ESCALATION_FILE, None
    escalation_path = root / ESCALATION_FILE
    if escalation_path.exists():
        try:
            escalation = parse_escalation(
                load_yaml(escalation_path), parties=party_list, organisations=org_list
            )
        except ConfigError as exc:
            escalation_error = exc
    return Library(str(root), good, tuple(broken), escalation, escalation_error)
