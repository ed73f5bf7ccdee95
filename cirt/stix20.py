"""STIX 2.0 objects upgraded to 2.1, as the differences the 2.1 specification lists require.

What changes (STIX 2.1 CS03, Appendix "Changes from STIX 2.0"), and nothing else:

* every object gains ``spec_version: "2.1"`` (2.0 objects carry none; the bundle did); ``id``,
  ``created_by_ref``, ``object_marking_refs`` and ``granular_markings`` are kept as they are;
* the 2.0 ``labels`` of indicator, malware, report, threat-actor and tool named the object's kind
  from a vocabulary; 2.1 moved that meaning to ``indicator_types``, ``malware_types``,
  ``report_types``, ``threat_actor_types`` and ``tool_types`` (§4), and ``labels`` became free
  tags, so the values move to the vocabulary property;
* an indicator states ``pattern_type: "stix"`` (2.0 had only STIX patterns) and ``valid_from``
  (required in both; a 2.0 indicator without it is given its ``created``);
* malware states ``is_family: true``: 2.0 malware described families (§4.7);
* observed-data's observables, kept in ``objects`` and referring to each other by dictionary key
  ("0", "1"), become cyber-observable objects of their own named in ``object_refs`` (``objects``
  is deprecated), with the 2.1 names of properties that were renamed (file and directory
  ``created``/``modified``/``accessed`` -> ``ctime``/``mtime``/``atime``, process ``created`` ->
  ``created_time`` and ``binary_ref`` -> ``image_ref``, registry key ``modified`` ->
  ``modified_time``).

Properties 2.1 removed without a successor are left for the validator to name.  Pure: no I/O.
References are found with the one reference walker, ``cirt.stix_refs.walk_references``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from cirt.observables import SCO_NAMESPACE
from cirt.stix_refs import RefPath, walk_references

# The vocabulary property a 2.0 object's ``labels`` became in 2.1.
LABELS_BECAME = {
    "indicator": "indicator_types",
    "malware": "malware_types",
    "report": "report_types",
    "threat-actor": "threat_actor_types",
    "tool": "tool_types",
}

# Cyber-observable properties 2.1 renamed.
SCO_RENAMED: Mapping[str, Mapping[str, str]] = {
    "file": {"created": "ctime", "modified": "mtime", "accessed": "atime"},
    "directory": {"created": "ctime", "modified": "mtime", "accessed": "atime"},
    "process": {"created": "created_time", "binary_ref": "image_ref"},
    "windows-registry-key": {"modified": "modified_time"},
}

_UUID4_ONLY = frozenset({"process"})  # no id-contributing properties (§6.11)
_TYPE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*\Z")


def upgrade_stix20(objects: list[Any]) -> tuple[list[str], dict[int, str]]:
    """Upgrade the objects of a STIX 2.0 bundle to 2.1 in place (lifted observables appended).

    Returns one note saying what was changed, and the objects to refuse (index: reason): those
    already claiming a ``spec_version``, which 2.0 objects never carry.
    """
    counts: dict[str, int] = {}
    mismatched: dict[int, str] = {}
    lifted: list[dict[str, Any]] = []

    def did(change: str) -> None:
        counts[change] = counts.get(change, 0) + 1

    for index, obj in enumerate(objects):
        if not isinstance(obj, dict):
            continue
        if "spec_version" in obj:
            mismatched[index] = f"spec_version '{str(obj['spec_version'])[:20]}' inside a STIX 2.0 bundle"
            continue
        obj["spec_version"] = "2.1"
        did("added spec_version '2.1' to {} object(s)")
        kind = obj.get("type")
        vocabulary = LABELS_BECAME.get(kind) if isinstance(kind, str) else None
        if vocabulary and "labels" in obj and vocabulary not in obj:
            obj[vocabulary] = obj.pop("labels")
            did("moved labels to the 2.1 *_types vocabulary property of {} object(s)")
        if kind == "indicator":
            if "pattern_type" not in obj:
                obj["pattern_type"] = "stix"
                did("added pattern_type 'stix' to {} indicator(s)")
            if "valid_from" not in obj and "created" in obj:
                obj["valid_from"] = obj["created"]
                did("gave {} indicator(s) without valid_from their created time")
        elif kind == "malware" and "is_family" not in obj:
            obj["is_family"] = True
            did("added is_family true to {} malware object(s)")
        elif kind == "observed-data" and isinstance(obj.get("objects"), dict) and "object_refs" not in obj:
            lifted.extend(_lift_observables(obj))
    objects.extend(lifted)
    changes = [change.format(count) for change, count in counts.items()]
    if lifted:
        changes.append(
            f"lifted {len(lifted)} observable(s) out of observed-data into objects of"
            " their own, named in object_refs"
        )
    return ["upgraded from STIX 2.0 to 2.1: " + "; ".join(changes)], mismatched


def _lift_observables(observed: dict[str, Any]) -> list[dict[str, Any]]:
    """observed-data's ``objects`` as 2.1 cyber-observable objects: each gets an id derived from
    the observed-data's id and its key, and every reference by key becomes a reference by that
    id.  Nothing is lifted when an entry is not an object with a type (the validator then says
    what is wrong)."""
    entries = observed["objects"]
    if not all(
        isinstance(key, str)
        and isinstance(value, dict)
        and isinstance(value.get("type"), str)
        and _TYPE.match(value["type"])
        for key, value in entries.items()
    ):
        return []
    owner = str(observed.get("id", ""))
    ids = {
        key: f"{value['type']}--{_sco_uuid(value['type'], owner + '|' + key)}"
        for key, value in entries.items()
    }
    lifted = []
    for key, sco in entries.items():
        renamed = SCO_RENAMED.get(sco["type"], {})
        for old, new in renamed.items():
            if old in sco and new not in sco:
                sco[new] = sco.pop(old)
        for path, ref in list(walk_references(sco)):
            if ref in ids:
                _replace(sco, path, ids[ref])
        sco["spec_version"] = "2.1"
        sco["id"] = ids[key]
        if "object_marking_refs" in observed and "object_marking_refs" not in sco:
            sco["object_marking_refs"] = list(observed["object_marking_refs"])
        lifted.append(sco)
    del observed["objects"]
    observed["object_refs"] = list(ids.values())
    return lifted


def _sco_uuid(sco_type: str, name: str) -> uuid.UUID:
    """A UUIDv5 (§2.9), except for the types 2.1 gives no id-contributing properties, which
    must use a UUIDv4: for those the same bits carry version 4, so that importing the same 2.0
    bundle twice still names each observable once."""
    derived = uuid.uuid5(SCO_NAMESPACE, name)
    if sco_type in _UUID4_ONLY:
        return uuid.UUID(bytes=derived.bytes, version=4)
    return derived


def _replace(value: Any, path: RefPath, new: str) -> None:
    """Put ``new`` where ``path`` (as ``walk_references`` gives it) points inside ``value``."""
    for step in path[:-1]:
        value = value[step]
    value[path[-1]] = new
