"""A MISP feed directory on disk: ``manifest.json``, ``hashes.csv`` and one ``<uuid>.json`` per
event, the layout a MISP subscribes to.

Read: every file through ``cirt.untrusted_json`` under the ``[import]`` limits, the events then
mapped by ``cirt.misp.to_stix``.  Written: events already released (``cirt.misp_exchange``
decides what goes into a feed and records it before anything is written here).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pymisp import MISPEvent

from cirt.errors import InputRejected
from cirt.limits import ImportLimits
from cirt.misp.to_stix import events_in
from cirt.untrusted_json import parse_json, read_bytes

MANIFEST = "manifest.json"
HASHES = "hashes.csv"


def read_feed(directory: Path, limits: ImportLimits) -> list[dict[str, Any]]:
    """The events of a MISP feed directory (manifest.json + one ``<uuid>.json`` per event)."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise InputRejected(f"{directory}: a directory, but not a MISP feed (no manifest.json)")
    manifest = parse_json(read_bytes(manifest_path, limits), str(manifest_path), limits)
    if not isinstance(manifest, dict):
        raise InputRejected(f"{manifest_path}: a MISP feed manifest maps event uuids to events")
    events = []
    for event_uuid in manifest:
        try:
            uuid.UUID(str(event_uuid))
        except ValueError:
            raise InputRejected(f"{manifest_path}: '{str(event_uuid)[:60]}' is not an event uuid") from None
        path = directory / f"{event_uuid}.json"
        if not path.is_file():
            raise InputRejected(
                f"{directory}: manifest.json names {event_uuid}, but {event_uuid}.json is missing"
            )
        events.extend(events_in(parse_json(read_bytes(path, limits), str(path), limits), str(path)))
    return events


def write_feed(directory: Path, events: Sequence[MISPEvent]) -> None:
    """Add the events to the feed in ``directory`` (created if missing): one file each, their
    entries merged into the manifest, their attribute hashes appended to hashes.csv."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path = directory / MANIFEST
    manifest: dict[str, Any] = {}
    if manifest_path.exists():
        existing = parse_json(manifest_path.read_bytes(), str(manifest_path))
        manifest = existing if isinstance(existing, dict) else {}
    hashes: list[str] = []
    for event in events:
        feed = event.to_feed(with_meta=True, with_distribution=True)
        manifest.update(feed["Event"].pop("_manifest"))
        hashes.extend(f"{h},{event.uuid}" for h in feed["Event"].pop("_hashes"))
        path = directory / f"{event.uuid}.json"
        path.write_text(json.dumps(feed, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    with (directory / HASHES).open("a", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in hashes)
