"""The analyst's own STIX 2.1 bundle: everything (or one incident) with what it depends on.

Recipient filtering is not done here: a bundle for someone else comes from the gate
(``cirt.sharing``); this one is for the national CIRT itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cirt.incidents import (
    INCIDENT_CORE_DEFINITION,
    INCIDENT_CORE_ID,
    OUR_EXTENSION_ID,
    our_extension_definition,
)
from cirt.tlp import marking_definitions_for

if TYPE_CHECKING:
    from cirt.community import NationalCirt
    from cirt.workspace import Workspace


def identity_object(national: NationalCirt) -> dict[str, Any]:
    """The national CIRT's identity SDO, stable across exports."""
    return {
        "type": "identity", "spec_version": "2.1", "id": national.identity,
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": national.name, "identity_class": "organization",
        "sectors": ["government-national"],
    }


def with_definitions(objects: list[dict[str, Any]], national: NationalCirt,
                     bundle_id: str) -> dict[str, Any]:
    """A bundle of ``objects`` plus the marking, extension and identity objects they reference."""
    present = {o["id"] for o in objects}
    extra: list[dict[str, Any]] = []
    extensions_used = {key for o in objects for key in o.get("extensions", {})}
    if INCIDENT_CORE_ID in extensions_used and INCIDENT_CORE_ID not in present:
        extra.append(dict(INCIDENT_CORE_DEFINITION))
    if OUR_EXTENSION_ID in extensions_used and OUR_EXTENSION_ID not in present:
        extra.append(our_extension_definition(national.identity))
    if national.identity not in present and any(
            o.get("created_by_ref") == national.identity for o in objects + extra):
        extra.append(identity_object(national))
    extra += marking_definitions_for(objects + extra)
    return {"type": "bundle", "id": bundle_id, "objects": extra + objects}


def own_bundle(ws: Workspace, incident_ref: str | None = None) -> dict[str, Any]:
    """Every newest object in the store, or one incident and everything linked to it."""
    objects: Iterable[dict[str, Any]]
    if incident_ref:
        incident = ws.incidents.get(incident_ref)
        objects = [incident.obj, *ws.incidents.linked_objects(incident_ref)]
    else:
        objects = (s.obj for s in ws.store.latest_objects())
    return with_definitions(list(objects), ws.community.national, ws.ids("bundle"))
