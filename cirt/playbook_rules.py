"""Playbook rules: the tasks and duties a playbook gives an incident, and when to escalate.

Pure: the facts, the playbook and the moment are passed in.  Deadlines are instants in UTC: an
offset is elapsed time (24h is 24 hours even across a daylight saving change); only the display
converts to the CIRT's time zone.  An escalation is proposed when a trigger for a higher level
holds, and only once: when a change makes it true.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from cirt.incidents import ESCALATION_LEVELS
from cirt.playbook_conditions import Facts
from cirt.playbook_model import AFFECTED, Escalation, Playbook, Trigger

if TYPE_CHECKING:
    from cirt.playbook_schema import DutySpec


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
        out.append(
            PlannedItem(
                prefix + task.id,
                "task",
                task.title,
                task.description,
                task.phase,
                task.due,
                None if task.after else opened + task.due,
                prefix + task.after if task.after else None,
                task.owner,
                task.priority,
                playbook=playbook.name,
                decision=task.decision,
                start_on=task.on_answer,
            )
        )
    for duty in playbook.spec.duties:
        condition = playbook.conditions.get(duty.id)
        if condition is not None and not condition.holds(facts):
            continue
        out.append(_duty_item(duty, prefix, facts, opened, playbook=playbook.name))
    kept = {item.key for item in out}
    # An item waiting for one that was left out by its condition counts from opening instead.
    return [
        item if item.after is None or item.after in kept else _replace_due(item, opened + item.offset)
        for item in out
    ]


def _duty_item(
    duty: DutySpec,
    prefix: str,
    facts: Facts,
    anchor: datetime,
    *,
    playbook: str | None = None,
    level: str | None = None,
) -> PlannedItem:
    return PlannedItem(
        prefix + duty.id,
        "duty",
        duty.title,
        duty.description,
        "notification",
        duty.due,
        None if duty.after else anchor + duty.due,
        prefix + duty.after if duty.after else None,
        "duty-officer",
        90,
        party=duty.party,
        role=duty.role,
        playbook=playbook,
        level=level,
        parties=_party_list(duty.party, facts),
        start_on=duty.on_answer,
        repeat=duty.repeat,
    )


def _replace_due(item: PlannedItem, due: datetime) -> PlannedItem:
    return replace(item, due=due, after=None, start_on=None)


def without_repeated_duties(
    items: Iterable[PlannedItem], told: Iterable[tuple[str, str | None]]
) -> list[PlannedItem]:
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


def plan_escalation(
    escalation: Escalation, level: str, facts: Facts, escalated: datetime
) -> list[PlannedItem]:
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


def propose(triggers: Sequence[Trigger], facts: Facts, before: Facts | None = None) -> Proposal | None:
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
