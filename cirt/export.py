"""The analyst's own STIX 2.1 bundle: everything (or one incident) with what it depends on.

Recipient filtering is not done here: a bundle for someone else comes from the gate
(``cirt.sharing``); this one is for the national CIRT itself, and it is still written to the
disclosure log (recipient: the national CIRT, channel 'export') before it leaves, so that every
copy of the store's content that leaves the toolkit is accounted for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cirt.definitions import definitions_for, uses_of
from cirt.store import version_of
from cirt.tlp import object_level

if TYPE_CHECKING:
    from cirt.community import NationalCirt
    from cirt.workspace import Workspace


def with_definitions(objects: list[dict[str, Any]], national: NationalCirt,
                     bundle_id: str) -> dict[str, Any]:
    """A bundle of ``objects`` plus the marking, extension and identity objects they reference."""
    extensions, creators, markings = uses_of(objects)
    extra = definitions_for(extensions=extensions, creators=creators, markings=markings,
                            national=national, present=[o["id"] for o in objects])
    return {"type": "bundle", "id": bundle_id, "objects": extra + objects}


def own_bundle(ws: Workspace, incident_ref: str | None = None) -> dict[str, Any]:
    """Every newest object in the store, or one incident with its links, tasks and evidence."""
    objects: Iterable[dict[str, Any]]
    if incident_ref:
        objects = (s.obj for s in ws.store.latest_many(ws.incidents.attached_ids(incident_ref)))
    else:
        objects = (s.obj for s in ws.store.latest_objects())
    chosen = list(objects)
    default = ws.community.default_tlp
    levels = [object_level(o, default) for o in chosen]
    ws.audit.record(recipient=f"org:{ws.community.national.id}", channel="export",
                    objects=[(o["id"], version_of(o), int(level))
                             for o, level in zip(chosen, levels, strict=True)],
                    tlp=int(max(levels, default=default)))
    return with_definitions(chosen, ws.community.national, ws.ids("bundle"))
