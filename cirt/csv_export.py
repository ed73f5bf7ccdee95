"""Incidents and indicators as CSV for spreadsheets: formulas neutralised, nothing lost.

Every text cell passes :func:`cirt.csv_cells.neutralise` (a formula becomes text, and
``restore`` gives back exactly what was written).  Lists are JSON arrays in one cell.
``read_back`` parses a file this module wrote into the same values.  Only what the gate
released leaves: every file is a logged release, to a recipient or to the CIRT's own archive.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cirt.csv_cells import neutralise, restore
from cirt.errors import InvalidValue
from cirt.incidents import Incident
from cirt.store import search_index
from cirt.tlp import TLP

if TYPE_CHECKING:
    from cirt.context import Context
    from cirt.sharing import Sharing
    from cirt.store.sql import SQLStore

INCIDENT_COLUMNS = (
    "reference",
    "id",
    "title",
    "status",
    "severity",
    "category",
    "tlp",
    "escalation_level",
    "organisations",
    "assignee",
    "created",
    "modified",
    "acknowledged",
    "closed",
    "resolution",
    "summary",
    "description",
)
INDICATOR_COLUMNS = (
    "id",
    "name",
    "pattern",
    "pattern_type",
    "tlp",
    "created",
    "modified",
    "valid_from",
    "valid_until",
    "revoked",
    "labels",
    "incidents",
    "description",
)
LIST_COLUMNS = frozenset({"organisations", "labels", "incidents"})
KINDS = ("incidents", "indicators")


def write(columns: Sequence[str], records: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([neutralise(_cell(record.get(c))) for c in columns])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return json.dumps(list(value), ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_back(text: str) -> list[dict[str, Any]]:
    """The records of a CSV this module wrote (lists as lists, empty cells as None)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    out = []
    for row in reader:
        record: dict[str, Any] = {}
        for column, raw in zip(header, row, strict=True):
            value = restore(raw)
            record[column] = (
                json.loads(value) if column in LIST_COLUMNS and value else value if value else None
            )
        out.append(record)
    return out


Item = tuple[Mapping[str, Any], int]  # an object (stored, or as the gate released it), its TLP


def incident_records(store: SQLStore, objects: Sequence[Item]) -> list[dict[str, Any]]:
    facts = {r[0]: (r[1], r[2]) for r in _facts(store, [str(o["id"]) for o, _ in objects])}
    records = []
    for obj, level in objects:
        incident = Incident(dict(obj))
        summary = incident.summary()
        acknowledged, closed = facts.get(incident.id, (None, None))
        records.append(
            {
                "reference": incident.reference,
                "id": incident.id,
                "title": incident.title,
                "status": incident.status,
                "severity": incident.severity,
                "category": incident.category,
                "tlp": _tlp(level),
                "escalation_level": incident.escalation_level,
                "organisations": list(incident.organisations),
                "assignee": incident.assignee,
                "created": incident.created,
                "modified": incident.modified,
                "acknowledged": acknowledged,
                "closed": closed,
                "resolution": summary.get("resolution"),
                "summary": summary.get("summary"),
                "description": summary.get("description"),
            }
        )
    return sorted(records, key=lambda r: (r["created"], r["reference"]))


def indicator_records(
    store: SQLStore, objects: Sequence[Item], references: Mapping[str, str]
) -> list[dict[str, Any]]:
    """``references``: the reference the file shows for each incident id it may name (what the
    gate released of that incident: the public reference for a recipient)."""
    owners = search_index.incidents_of(store.db, [str(o["id"]) for o, _ in objects])
    records = []
    for obj, level in objects:
        records.append(
            {
                "id": obj["id"],
                "name": obj.get("name"),
                "pattern": obj.get("pattern"),
                "pattern_type": obj.get("pattern_type"),
                "tlp": _tlp(level),
                "created": obj.get("created"),
                "modified": obj.get("modified"),
                "valid_from": obj.get("valid_from"),
                "valid_until": obj.get("valid_until"),
                "revoked": bool(obj.get("revoked", False)),
                "labels": list(obj.get("labels", [])),
                "incidents": [
                    references[i.incident_id]
                    for i in owners.get(str(obj["id"]), [])
                    if i.incident_id in references
                ],
                "description": obj.get("description"),
            }
        )
    return sorted(records, key=lambda r: (str(r["created"]), r["id"]))


def export_csv(context: Context, sharing: Sharing, kind: str, recipient: str | None = None) -> str:
    """Every incident or indicator (newest versions); for a recipient, only what the gate
    releases to it, and the release is logged (the file leaves)."""
    if kind not in KINDS:
        raise InvalidValue(f"'{kind}' cannot be exported as CSV (use one of: {', '.join(KINDS)})")
    store = context.store
    offered = list(
        store.latest_objects(types=["incident", "indicator"] if kind == "indicators" else ["incident"])
    )
    # every file that leaves is a logged release (issue 11): without a recipient, to the CIRT's
    # own archive (everything, internal references kept). An indicator row names its incidents,
    # so they are released with it: the file shows what the gate let out of each (for a
    # recipient, the public reference) and the log records them.
    released = sharing.release(offered, recipient or "archive", "export", delivery="file").released
    items: list[Item] = [(r.obj, int(r.tlp)) for r in released if r.obj["type"] == kind[:-1]]
    if kind == "incidents":
        return write(INCIDENT_COLUMNS, incident_records(store, items))
    references = {
        str(r.obj["id"]): Incident(dict(r.obj)).reference for r in released if r.obj["type"] == "incident"
    }
    return write(INDICATOR_COLUMNS, indicator_records(store, items, references))


def _facts(store: SQLStore, ids: list[str]) -> list[tuple[str, str | None, str | None]]:
    found = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found += store.db.query(
            f"SELECT incident_id, acknowledged, closed FROM incident_facts WHERE incident_id IN ({marks})",
            chunk,
        )
    return [(str(r[0]), r[1], r[2]) for r in found]


def _tlp(level: int) -> str:
    return TLP(level).label.removeprefix("TLP:").lower()
