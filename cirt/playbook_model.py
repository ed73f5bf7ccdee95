"""Compiled playbooks: a playbook, ``_escalation.yaml`` and a folder of them (a library).

Pure and light: the schema (``cirt.playbook_schema``, pydantic) and the files
(``cirt.playbook_files``) are only needed to load a library, not to plan from one.  A playbook
is one YAML file of the workspace's ``playbooks/`` folder (its name is the file name);
``_escalation.yaml`` holds what is common to every incident: the triggers that hold whatever
the category, the duties of each escalation level and the sectors counted as critical
infrastructure.  A broken file is set aside with its one-line error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cirt.errors import ConfigError, NotFound
from cirt.playbook_conditions import Condition
from cirt.stixtime import format_duration

if TYPE_CHECKING:
    from cirt.playbook_schema import DutySpec, LevelSpec, PlaybookFile, TaskSpec

AFFECTED = "affected"  # a duty's party: each organisation the incident affects


@dataclass(frozen=True)
class Trigger:
    level: str
    reason: str
    condition: Condition
    source: str  # the playbook name, or "_escalation"

    def as_dict(self) -> dict[str, str]:
        return {
            "level": self.level,
            "reason": self.reason,
            "condition": self.condition.describe(),
            "source": self.source,
        }


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
        return {
            "name": self.name,
            "title": spec.title,
            "version": spec.version,
            "categories": list(spec.applies_to.categories),
            "sectors": list(spec.applies_to.sectors),
            "tasks": len(spec.tasks),
            "duties": len(spec.duties),
            "evidence": len(spec.evidence),
            "triggers": len(spec.triggers),
            "path": self.path,
            "valid": True,
        }

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
        return {name: playbook.spec.applies_to.categories[0] for name, playbook in self.playbooks.items()}

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
        return sorted(
            found,
            key=lambda p: (
                category not in p.spec.applies_to.categories,
                len(p.spec.applies_to.categories),
                not p.spec.applies_to.sectors,
                p.name,
            ),
        )

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
