"""The schema of playbook files: what a playbook and ``_escalation.yaml`` may say, strictly.

Pure: it validates a mapping already read (``cirt.playbook_files`` reads the YAML and turns a
refusal into ``file:line: field: reason``).  An unknown key is an error, never ignored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from cirt.incidents import Answer, Phase
from cirt.stixtime import parse_duration

DEFAULT_CRITICAL_SECTORS = (
    "energy",
    "utilities",
    "water",
    "dams",
    "nuclear",
    "telecommunications",
    "financial-services",
    "healthcare",
    "emergency-services",
    "government-national",
    "transportation",
    "infrastructure",
)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


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
