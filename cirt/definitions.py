"""The definitions a bundle must carry for what its objects use: extension definitions, the
national CIRT's identity and the TLP marking definitions.

One place, used by the analyst's own export and by the gate's releases alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cirt.incidents import (
    INCIDENT_CORE_DEFINITION,
    INCIDENT_CORE_ID,
    INTERNAL_MARKING_DEFINITION,
    INTERNAL_MARKING_ID,
    OUR_EXTENSION_DEFINITION_TEMPLATE,
    OUR_EXTENSION_ID,
    REPORTING_EXTENSION_DEFINITION_TEMPLATE,
    REPORTING_EXTENSION_ID,
)
from cirt.tlp import marking_definitions_for

if TYPE_CHECKING:
    from cirt.community import NationalCirt

TASK_CORE_ID = "extension-definition--2074a052-8be4-4932-849e-f5e7798e0030"

# Ours, beside the OASIS task extension: what it lacks (deadline, owner, phase, addressees).
TASK_EXTENSION_ID = "extension-definition--034817cc-0617-5b30-95f1-0a2a1a89e526"

TASK_EXTENSION_DEFINITION_TEMPLATE: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": TASK_EXTENSION_ID,
    "created": "2026-01-01T00:00:00.000Z",
    "modified": "2026-01-01T00:00:00.000Z",
    "name": "cirt task tracking extension",
    "description": "Deadlines and addressees of incident tasks and notification duties, beside "
    "the OASIS task extension: what a national CIRT must do, for whom, by when.",
    "schema": "Properties: incident_ref; key (playbook/id); kind (task|duty); phase; due "
    "(timestamp, absent while waiting); due_after (key whose completion starts the clock); "
    "offset (duration such as 24h); owner (role or analyst); parties (sectors.yaml ids); role "
    "(contact role); playbook; level (escalation level of a level duty); decision (a question "
    "answered yes|no|not-applicable); answer; start_on (the answer of due_after that starts "
    "the clock); done_by; state (done|cancelled|waived); note (what was done, or why not).",
    "version": "1.0.0",
    "extension_types": ["property-extension"],
}

# Ours, on the custody notes of evidence.
EVIDENCE_EXTENSION_ID = "extension-definition--f769f7e1-406a-5ecb-8b31-3c0aa408c5e8"

EVIDENCE_EXTENSION_DEFINITION_TEMPLATE: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": EVIDENCE_EXTENSION_ID,
    "created": "2026-01-01T00:00:00.000Z",
    "modified": "2026-01-01T00:00:00.000Z",
    "name": "cirt evidence custody extension",
    "description": "Chain of custody of incident evidence: who collected a file, when, and every "
    "later hand-over, on STIX notes about the incident and the file observable.",
    "schema": "Properties: action (collected|handover); number (E1, E2… per incident); "
    "evidence_ref (file id); sha256; size; name; person (who collected or handed over); "
    "recipient (new custodian, for a hand-over); when (timestamp); note.",
    "version": "1.0.0",
    "extension_types": ["property-extension"],
}

# The OASIS Task Extension definition (v1.0.0), for bundles holding incident tasks.
TASK_CORE_DEFINITION: dict[str, Any] = {
    "id": TASK_CORE_ID,
    "type": "extension-definition",
    "spec_version": "2.1",
    "name": "Task Extension",
    "description": "Tasks primarily record defender activities performed in response to events "
    "and incidents.  They can also be used to track generic tasks outside of the incident "
    "response process.",
    "created": "2023-05-16T21:24:16.596743Z",
    "modified": "2023-05-16T21:24:16.596743Z",
    "created_by_ref": "identity--8ce3f695-d5a4-4dc8-9e93-a65af453a31a",
    "schema": "https://github.com/oasis-open/cti-stix-common-objects/tree/main/"
    "extension-definition-specifications/incident-core/task",
    "version": "1.0.0",
    "extension_types": ["new-sdo"],
}


def identity_object(national: NationalCirt) -> dict[str, Any]:
    """The national CIRT's identity SDO, stable across exports."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": national.identity,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": national.name,
        "identity_class": "organization",
        "sectors": ["government-national"],
    }


def extension_definition(extension_id: str, identity: str) -> dict[str, Any] | None:
    """The definition of an extension this toolkit uses, or None for someone else's."""
    if extension_id == INCIDENT_CORE_ID:
        return dict(INCIDENT_CORE_DEFINITION)
    if extension_id == TASK_CORE_ID:
        return dict(TASK_CORE_DEFINITION)
    ours = {
        OUR_EXTENSION_ID: OUR_EXTENSION_DEFINITION_TEMPLATE,
        REPORTING_EXTENSION_ID: REPORTING_EXTENSION_DEFINITION_TEMPLATE,
        TASK_EXTENSION_ID: TASK_EXTENSION_DEFINITION_TEMPLATE,
        EVIDENCE_EXTENSION_ID: EVIDENCE_EXTENSION_DEFINITION_TEMPLATE,
    }
    template = ours.get(extension_id)
    # our own extensions are defined by this CIRT's identity
    return {**template, "created_by_ref": identity} if template else None


def definitions_for(
    *,
    extensions: Iterable[str],
    creators: Iterable[str],
    markings: Iterable[str],
    national: NationalCirt,
    present: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Extension definitions, our identity and TLP markings that are used but not present."""
    have = set(present)
    out: list[dict[str, Any]] = []
    for extension_id in sorted(set(extensions) - have):
        definition = extension_definition(extension_id, national.identity)
        if definition is not None:
            out.append(definition)
    if national.identity not in have and (
        national.identity in set(creators) or any(d.get("created_by_ref") == national.identity for d in out)
    ):
        out.append(identity_object(national))
    used: list[dict[str, Any]] = [{"object_marking_refs": sorted(set(markings))}, *({"id": i} for i in have)]
    out += marking_definitions_for(used)
    if INTERNAL_MARKING_ID in markings and INTERNAL_MARKING_ID not in have:
        out.append(dict(INTERNAL_MARKING_DEFINITION))  # only the CIRT's own exports hold it
    return out
