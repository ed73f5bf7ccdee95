"""Incident rules and their STIX 2.1 form. Pure: the clock, ids and identity are passed in.

An incident is a STIX ``incident`` carrying the OASIS incident-core extension (status,
determination, criticality, incident types, tasks) and our own property extension for what that
lacks: the human reference (``BZ-2026-0042``), the RSIT category, severity, affected
organisations, escalation level and its record, assignee and resolution.  Every change is a new
version with a later ``modified``; nothing is ever overwritten.

Who reported it and when (``reported_at``, ``occurred_at``, ``reporter``, ``report_channel``)
and the analysts' own ``internal_description`` are top-level properties of a second extension
of ours (:data:`REPORTING_EXTENSION_ID`).  STIX ``description`` is the shareable summary.  The
reporter, the channel and the internal description carry a granular marking,
:data:`INTERNAL_MARKING_ID`: a statement of ours that no recipient is given, so the gate, which
removes every property selected by a marking the recipient may not see and withholds every
object marked with one it does not know (fail closed), never releases them.  Internal notes
carry that marking on the whole note.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from cirt.errors import InvalidValue
from cirt.stixtime import format_ts, later_than
from cirt.tlp import TLP, object_level

INCIDENT_CORE_ID = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
OUR_EXTENSION_ID = "extension-definition--df202fa3-4810-5851-ba20-3acdc73f6428"

REPORTING_EXTENSION_ID = "extension-definition--4e12a165-016f-58c3-b007-ae819becd1a9"
INTERNAL_MARKING_ID = "marking-definition--f5cf8e53-e87b-5add-888d-0bf182154462"

# A statement marking: what it selects stays inside the national CIRT.  No sectors.yaml
# ``markings`` entry maps it to a TLP, so every release withholds what it marks.
INTERNAL_MARKING_DEFINITION: dict[str, Any] = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": INTERNAL_MARKING_ID,
    "created": "2026-01-01T00:00:00.000Z",
    "name": "cirt internal",
    "definition_type": "statement",
    "definition": {
        "statement": "Internal to the national CIRT: the reporter's personal data, "
        "analysts' notes and descriptions. Never released."
    },
}

REPORTING_EXTENSION_DEFINITION_TEMPLATE: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": REPORTING_EXTENSION_ID,
    "created": "2026-01-01T00:00:00.000Z",
    "modified": "2026-01-01T00:00:00.000Z",
    "name": "cirt incident reporting extension",
    "description": "When an incident happened and who reported it, beside the analysts' own "
    "description; the reporter and the internal description are marked internal.",
    "schema": "Top-level properties: reported_at (timestamp); occurred_at (timestamp); "
    "reporter ({name, contact, kind: citizen|organisation|partner|automated}); report_channel "
    "(phone|e-mail|web|partner-feed); internal_description (string).",
    "version": "1.0.0",
    "extension_types": ["toplevel-property-extension"],
}

# The vocabularies as types too, so that the command line refuses other values (exit 2).
ReporterKind = Literal["citizen", "organisation", "partner", "automated"]
Channel = Literal["phone", "e-mail", "web", "partner-feed"]
Severity = Literal["low", "medium", "high", "critical"]
Status = Literal["new", "open", "closed"]
Determination = Literal["suspected", "confirmed", "blocked", "failed-attempt", "false-positive"]
EscalationLevel = Literal["sector", "national", "coordinator", "international"]
Answer = Literal["yes", "no", "not-applicable"]  # to a decision task of a playbook
Phase = Literal["triage", "containment", "eradication", "recovery", "lessons-learned"]
PHASES: tuple[str, ...] = get_args(Phase)
ANSWERS: tuple[str, ...] = get_args(Answer)
REPORTER_KINDS: tuple[str, ...] = get_args(ReporterKind)
CHANNELS: tuple[str, ...] = get_args(Channel)
INTERNAL_PROPERTIES = ("reporter", "report_channel", "internal_description")

SEVERITIES: tuple[str, ...] = get_args(Severity)
CRITICALITY = {"low": 25, "medium": 50, "high": 75, "critical": 100}
STATUSES: tuple[str, ...] = get_args(Status)
DETERMINATIONS: tuple[str, ...] = get_args(Determination)
ESCALATION_LEVELS: tuple[str, ...] = get_args(EscalationLevel)

# ENISA Reference Security Incident Taxonomy (RSIT), as published in the MISP taxonomy "rsit".
RSIT_CATEGORIES: dict[str, tuple[str, ...]] = {
    "abusive-content": ("spam", "harmful-speech", "violence"),
    "malicious-code": ("infected-system", "c2-server", "malware-distribution", "malware-configuration"),
    "information-gathering": ("scanner", "sniffing", "social-engineering"),
    "intrusion-attempts": ("ids-alert", "brute-force", "exploit"),
    "intrusions": (
        "privileged-account-compromise",
        "unprivileged-account-compromise",
        "application-compromise",
        "system-compromise",
        "burglary",
    ),
    "availability": ("dos", "ddos", "misconfiguration", "sabotage", "outage"),
    "information-content-security": (
        "unauthorised-information-access",
        "unauthorised-information-modification",
        "data-loss",
        "data-leak",
    ),
    "fraud": ("unauthorised-use-of-resources", "copyright", "masquerade", "phishing"),
    "vulnerable": (
        "weak-crypto",
        "ddos-amplifier",
        "potentially-unwanted-accessible",
        "information-disclosure",
        "vulnerable-system",
    ),
    "other": ("other", "undetermined"),
    "test": ("test",),
}
ALL_CATEGORIES = tuple(f"{cls}:{kind}" for cls, kinds in RSIT_CATEGORIES.items() for kind in kinds)

# The OASIS Incident Core Extension definition (v2.0.0), included in bundles that use it.
INCIDENT_CORE_DEFINITION: dict[str, Any] = {
    "id": INCIDENT_CORE_ID,
    "type": "extension-definition",
    "spec_version": "2.1",
    "name": "Incident Core Extension",
    "description": "A core extension of the Incident object to allow core details of the "
    "Incident to be shared while tracking major details tied to the incident's timeline.  "
    "Multiple Incidents can be tied together via relationships if a higher degree of fidelity "
    "is needed across phases.",
    "created": "2020-10-19T20:51:00.000Z",
    "modified": "2023-07-11T00:56:00.000Z",
    "created_by_ref": "identity--8ce3f695-d5a4-4dc8-9e93-a65af453a31a",
    "schema": "https://github.com/oasis-open/cti-stix-common-objects/tree/main/"
    "extension-definition-specifications/incident-ef7",
    "version": "2.0.0",
    "extension_types": ["property-extension"],
}

OUR_EXTENSION_DEFINITION_TEMPLATE: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": OUR_EXTENSION_ID,
    "created": "2026-01-01T00:00:00.000Z",
    "modified": "2026-01-01T00:00:00.000Z",
    "name": "cirt national incident extension",
    "description": "What a national CIRT tracks beside the OASIS incident-core extension: "
    "human reference, RSIT category, severity, affected organisations, escalation.",
    "schema": "Properties: reference (string, e.g. BZ-2026-0042); category (RSIT class:type); "
    "severity (low|medium|high|critical); affected_organisations (list of sectors.yaml ids); "
    "escalation_level (sector|national|coordinator|international); escalations (list of "
    "{level, direction, reason, by, at}); assignee; playbook (the one applied); resolution; "
    "changed_by; change.",
    "version": "1.0.0",
    "extension_types": ["property-extension"],
}


@dataclass(frozen=True)
class Reporter:
    """Who reported an incident: personal data, never released."""

    name: str
    contact: str = ""
    kind: str = "citizen"

    def as_dict(self) -> dict[str, str]:
        check_choice("reporter kind", self.kind, REPORTER_KINDS)
        if not self.name.strip():
            raise InvalidValue("a reporter needs a name (--reporter)")
        out = {"name": self.name.strip(), "kind": self.kind}
        if self.contact.strip():
            out["contact"] = self.contact.strip()
        return out


def mark_internal(obj: dict[str, Any]) -> None:
    """Point the internal granular marking at exactly the internal properties ``obj`` has."""
    present = [name for name in INTERNAL_PROPERTIES if obj.get(name) not in (None, "")]
    for name in INTERNAL_PROPERTIES:
        if name in obj and name not in present:
            del obj[name]
    others = [g for g in obj.get("granular_markings", []) if g.get("marking_ref") != INTERNAL_MARKING_ID]
    if present:
        others.append({"marking_ref": INTERNAL_MARKING_ID, "selectors": present})
    if others:
        obj["granular_markings"] = others
    else:
        obj.pop("granular_markings", None)


def parse_category(text: str, words: Mapping[str, str] | None = None) -> str:
    """``phishing`` or ``fraud:phishing`` -> ``fraud:phishing``; old spellings are not guessed.

    ``words`` are the analyst's plain words for a category (a playbook's name, such as
    ``ransomware``, stands for the first category it applies to), so the words an analyst
    thinks in open the incident their playbook handles."""
    value = text.strip().lower()
    if value in ALL_CATEGORIES:
        return value
    matches = [c for c in ALL_CATEGORIES if c.split(":")[1] == value]
    if len(matches) == 1:
        return matches[0]
    if words and value in words:
        return words[value]
    known = f"; or one of: {', '.join(sorted(words))}" if words else ""
    raise InvalidValue(
        f"'{text}' is not an RSIT category (e.g. fraud:phishing, "
        f"malicious-code:infected-system, availability:ddos; see 'cirt incident "
        f"categories'){known}"
    )


def check_choice(kind: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidValue(f"'{value}' is not a valid {kind} (use one of: {', '.join(choices)})")
    return value


@dataclass(frozen=True)
class Incident:
    """A read-only view of one incident version."""

    obj: dict[str, Any]

    @property
    def _ours(self) -> dict[str, Any]:
        ext: dict[str, Any] = self.obj["extensions"][OUR_EXTENSION_ID]
        return ext

    @property
    def _core(self) -> dict[str, Any]:
        ext: dict[str, Any] = self.obj["extensions"][INCIDENT_CORE_ID]
        return ext

    id = property(lambda self: str(self.obj["id"]))
    title = property(lambda self: str(self.obj["name"]))
    description = property(lambda self: self.obj.get("internal_description"))
    shareable_summary = property(lambda self: self.obj.get("description"))
    reported_at = property(lambda self: str(self.obj.get("reported_at") or self.obj["created"]))
    occurred_at = property(lambda self: self.obj.get("occurred_at"))
    reporter = property(lambda self: self.obj.get("reporter"))
    channel = property(lambda self: self.obj.get("report_channel"))
    created = property(lambda self: str(self.obj["created"]))
    modified = property(lambda self: str(self.obj["modified"]))
    reference = property(lambda self: str(self._ours["reference"]))
    category = property(lambda self: str(self._ours["category"]))
    severity = property(lambda self: str(self._ours["severity"]))
    organisations = property(lambda self: tuple(self._ours["affected_organisations"]))
    escalation_level = property(lambda self: str(self._ours["escalation_level"]))
    escalations = property(lambda self: list(self._ours.get("escalations", [])))
    assignee = property(lambda self: self._ours.get("assignee"))
    playbook = property(lambda self: self._ours.get("playbook"))
    resolution = property(lambda self: self._ours.get("resolution"))
    status = property(lambda self: str(self._core["investigation_status"]))
    determination = property(lambda self: str(self._core["determination"]))

    def tlp(self, default: TLP = TLP.AMBER) -> TLP:
        return object_level(self.obj, default)

    def summary(self) -> dict[str, Any]:
        """The fields scripts and tables show."""
        return {
            "id": self.id,
            "reference": self.reference,
            "title": self.title,
            "description": self.description,
            "summary": self.shareable_summary,
            "reported_at": self.reported_at,
            "occurred_at": self.occurred_at,
            "reporter": self.reporter,
            "channel": self.channel,
            "category": self.category,
            "severity": self.severity,
            "status": self.status,
            "determination": self.determination,
            "tlp": self.tlp().slug,
            "organisations": list(self.organisations),
            "escalation_level": self.escalation_level,
            "assignee": self.assignee,
            "playbook": self.playbook,
            "resolution": self.resolution,
            "created": self.created,
            "modified": self.modified,
        }


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an incident's history: a version of the incident or a linked object."""

    at: str
    by: str
    kind: str
    what: str

    def as_dict(self) -> dict[str, str]:
        return {"at": self.at, "by": self.by, "kind": self.kind, "what": self.what}


def new_incident(
    *,
    incident_id: str,
    reference: str,
    title: str,
    category: str,
    severity: str,
    organisations: list[str],
    tlp: TLP,
    description: str | None,
    identity: str,
    analyst: str,
    now: datetime,
    summary: str | None = None,
    reported_at: datetime | None = None,
    occurred_at: datetime | None = None,
    reporter: Reporter | None = None,
    channel: str | None = None,
) -> Incident:
    """Version 1 of an incident: status new, determination suspected, escalation sector.

    ``description`` is the analysts' (internal), ``summary`` the shareable one; ``reported_at``
    (default: now) is when the CIRT was told, from which duties count.
    """
    if not title.strip():
        raise InvalidValue("an incident needs a title")
    if not organisations:
        raise InvalidValue("an incident needs at least one affected organisation (--sector ORG)")
    check_choice("severity", severity, SEVERITIES)
    reported = reported_at or now
    if reported > now:
        raise InvalidValue(f"reported-at {format_ts(reported)} is in the future")
    if occurred_at is not None and occurred_at > reported:
        raise InvalidValue(f"occurred-at {format_ts(occurred_at)} is after reported-at {format_ts(reported)}")
    if channel is not None:
        check_choice("channel", channel, CHANNELS)
    stamp = format_ts(now)
    obj: dict[str, Any] = {
        "type": "incident",
        "spec_version": "2.1",
        "id": incident_id,
        "created": stamp,
        "modified": stamp,
        "created_by_ref": identity,
        "name": title.strip(),
        "object_marking_refs": [tlp.marking_id],
        "extensions": {
            INCIDENT_CORE_ID: {
                "extension_type": "property-extension",
                "investigation_status": "new",
                "determination": "suspected",
                "criticality": CRITICALITY[severity],
                "incident_types": [category.split(":")[1]],
            },
            OUR_EXTENSION_ID: {
                "extension_type": "property-extension",
                "reference": reference,
                "category": category,
                "severity": severity,
                "affected_organisations": sorted(set(organisations)),
                "escalation_level": "sector",
                "changed_by": analyst,
                "change": "opened",
            },
        },
    }
    obj["extensions"][REPORTING_EXTENSION_ID] = {"extension_type": "toplevel-property-extension"}
    obj["reported_at"] = format_ts(reported)
    if occurred_at is not None:
        obj["occurred_at"] = format_ts(occurred_at)
    if summary:
        obj["description"] = summary
    obj.update(
        {
            "internal_description": description,
            "report_channel": channel,
            "reporter": reporter.as_dict() if reporter else None,
        }
    )
    mark_internal(obj)
    return Incident(obj)


def revise(incident: Incident, *, analyst: str, now: datetime, change: str, **fields: Any) -> Incident:
    """The next version with ``fields`` changed; names map to where each field lives in STIX."""
    obj = copy.deepcopy(incident.obj)
    core, ours = obj["extensions"][INCIDENT_CORE_ID], obj["extensions"][OUR_EXTENSION_ID]
    for name, value in fields.items():
        if name == "title":
            obj["name"] = value
        elif name == "description":
            obj["internal_description"] = value
        elif name == "summary":
            obj["description"] = value
        elif name == "tlp":
            obj["object_marking_refs"] = [TLP(value).marking_id]
        elif name == "severity":
            ours["severity"] = check_choice("severity", value, SEVERITIES)
            core["criticality"] = CRITICALITY[value]
        elif name == "category":
            ours["category"] = value
            core["incident_types"] = [value.split(":")[1]]
        elif name == "status":
            core["investigation_status"] = check_choice("status", value, STATUSES)
        elif name == "determination":
            core["determination"] = check_choice("determination", value, DETERMINATIONS)
        elif name == "organisations":
            ours["affected_organisations"] = sorted(set(value))
        elif name in ("assignee", "resolution", "escalation_level", "escalations", "playbook"):
            ours[name] = value
        elif name == "tasks":
            if value:
                core["tasks"] = value
            else:
                core.pop("tasks", None)
        else:
            raise InvalidValue(f"'{name}' is not a field of an incident")
    ours["changed_by"] = analyst
    ours["change"] = change
    obj["modified"] = later_than(incident.modified, now)
    if not obj.get("description"):
        obj.pop("description", None)
    if any(name in obj for name in INTERNAL_PROPERTIES):
        obj.setdefault("extensions", {})[REPORTING_EXTENSION_ID] = {
            "extension_type": "toplevel-property-extension"
        }
    mark_internal(obj)
    return Incident(obj)


def escalate(
    incident: Incident, *, level: str, reason: str, analyst: str, now: datetime, de_escalate: bool = False
) -> Incident:
    """Move the escalation level; upward only unless ``de_escalate`` with a reason."""
    check_choice("escalation level", level, ESCALATION_LEVELS)
    if not reason.strip():
        raise InvalidValue("an escalation needs a reason (--reason)")
    current = ESCALATION_LEVELS.index(incident.escalation_level)
    target = ESCALATION_LEVELS.index(level)
    if target == current:
        raise InvalidValue(f"{incident.reference} is already at {level} level")
    if target < current and not de_escalate:
        raise InvalidValue(
            f"{incident.reference} is at {incident.escalation_level} level; "
            f"moving down to {level} needs --de-escalate with a reason"
        )
    if target > current and de_escalate:
        raise InvalidValue(f"{level} is above {incident.escalation_level}: that is an escalation")
    record = {
        "level": level,
        "direction": "down" if de_escalate else "up",
        "reason": reason,
        "by": analyst,
        "at": format_ts(now),
    }
    verb = "de-escalated" if de_escalate else "escalated"
    return revise(
        incident,
        analyst=analyst,
        now=now,
        change=f"{verb} to {level}: {reason}",
        escalation_level=level,
        escalations=[*incident.escalations, record],
    )


def close(
    incident: Incident,
    *,
    resolution: str,
    determination: str,
    analyst: str,
    now: datetime,
    open_duties: tuple[str, ...] = (),
) -> Incident:
    """Close with a resolution; refused while a notification duty is open (``open_duties``
    describes each), since a regulator's report must not vanish with the incident."""
    if incident.status == "closed":
        raise InvalidValue(f"{incident.reference} is already closed")
    if not resolution.strip():
        raise InvalidValue("closing needs a resolution (--resolution)")
    if open_duties:
        raise InvalidValue(
            f"{incident.reference} has {len(open_duties)} open notification "
            f"{'duty' if len(open_duties) == 1 else 'duties'}: {'; '.join(open_duties)}. Mark "
            f"each done ('cirt task done {incident.reference} N') or waive it with a reason "
            f"('cirt task waive {incident.reference} N --reason …'), then close"
        )
    return revise(
        incident,
        analyst=analyst,
        now=now,
        change=f"closed: {resolution}",
        status="closed",
        resolution=resolution,
        determination=determination,
    )


def reopen(incident: Incident, *, reason: str, analyst: str, now: datetime) -> Incident:
    if incident.status != "closed":
        raise InvalidValue(f"{incident.reference} is not closed")
    return revise(
        incident, analyst=analyst, now=now, change=f"reopened: {reason}", status="open", resolution=None
    )


def check_status_change(incident: Incident, status: str) -> str:
    """A status set by an update: closing and reopening have their own commands and records."""
    check_choice("status", status, STATUSES)
    if status == "closed" and incident.status != "closed":
        raise InvalidValue(
            f"closing needs a resolution: cirt incident close {incident.reference} --resolution …"
        )
    if incident.status == "closed" and status != "closed":
        raise InvalidValue(
            f"{incident.reference} is closed: cirt incident reopen {incident.reference} --reason …"
        )
    return status


def describe_changes(before: Incident | None, after: Incident) -> list[str]:
    """Field-level differences between two versions, for ``incident history``."""
    if before is None:
        return ["opened"]
    out = []
    for key, new in after.summary().items():
        if key in ("modified",):
            continue
        old = before.summary()[key]
        if old != new:
            out.append(f"{key}: {old} → {new}")
    return out
