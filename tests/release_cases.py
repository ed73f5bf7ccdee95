"""Generated stores for the differential tests of the release path (issue 11).

Small stores of every kind of object the exits see: indicators, SCOs, relationships, sightings,
reports, notes, identities of sectors.yaml parties, incidents with our extension, tasks with
their parties, custom types, extension definitions; with TLP markings (or none, or one nobody
knows), granular markings, several versions at different markings, objects received from a
peer, audiences, creators, custom ``*_ref`` properties nested in dictionaries and lists, and
values that name other parties.  Every object carries a unique ``secret-…`` marker value, so
that an output can be searched for every withheld value, not only ids.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from cirt.community import Community
from cirt.definitions import TASK_EXTENSION_ID
from cirt.incidents import OUR_EXTENSION_ID
from cirt.store import Provenance
from cirt.tlp import TLP
from cirt.workspace import Workspace

STAMPS = ["2026-03-01T00:00:00.000Z", "2026-03-02T00:00:00.000Z", "2026-03-03T00:00:00.000Z"]
UNKNOWN_MARKING = "marking-definition--00000000-0000-4000-8000-00000000beef"
EXTENSION = "extension-definition--00000000-0000-4000-8000-0000000000e1"
UNKNOWN_IDENTITY = "identity--00000000-0000-4000-8000-0000000000aa"


@dataclass
class Generated:
    """What was stored: every version, with its provenance kind, level and audience."""

    versions: list[tuple[dict[str, Any], str, TLP]] = field(default_factory=list)
    audience: dict[str, list[str]] = field(default_factory=dict)

    @property
    def latest(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for obj, _, _ in self.versions:
            if obj["id"] not in out or str(obj.get("modified", "")) > str(out[obj["id"]].get("modified", "")):
                out[obj["id"]] = obj
        return out


class Generator:
    def __init__(self, rng: random.Random, community: Community) -> None:
        self.rng = rng
        self.community = community
        self.parties = [*community.organisations, *community.partners]
        self.identities = [
            community.national.identity,
            *(o.identity for o in community.organisations.values()),
            *(p.identity for p in community.partners.values()),
        ]
        self.counter = 0

    def _id(self, kind: str) -> str:
        return f"{kind}--{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    def _marker(self) -> str:
        self.counter += 1
        return f"secret-{self.counter:05d}-{self.rng.getrandbits(24):06x}"

    def _marks(self) -> list[str]:
        roll = self.rng.random()
        if roll < 0.1:
            return []
        if roll < 0.15:
            return [UNKNOWN_MARKING]
        return [self.rng.choice(list(TLP)).marking_id]

    def _common(self, kind: str, stamp: str) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "type": kind,
            "spec_version": "2.1",
            "id": self._id(kind),
            "created": STAMPS[0],
            "modified": stamp,
        }
        marks = self._marks()
        if marks:
            obj["object_marking_refs"] = marks
        roll = self.rng.random()
        if roll < 0.3:
            obj["created_by_ref"] = self.rng.choice(self.identities)
        elif roll < 0.35:
            obj["created_by_ref"] = UNKNOWN_IDENTITY
        return obj

    def store(self, ws: Workspace, n: int) -> Generated:
        out = Generated()
        made: list[dict[str, Any]] = []
        for _ in range(n):
            obj = self._object(made)
            made.append(obj)
        # the identity objects of some parties, and the extension definition, stored too
        for identity in self.rng.sample(self.identities[1:], 2):
            made.append(
                {
                    "type": "identity",
                    "spec_version": "2.1",
                    "id": identity,
                    "created": STAMPS[0],
                    "modified": STAMPS[0],
                    "name": self._marker(),
                    "identity_class": "organization",
                    "object_marking_refs": [self.rng.choice(list(TLP)).marking_id],
                }
            )
        made.append(
            {
                "type": "extension-definition",
                "spec_version": "2.1",
                "id": EXTENSION,
                "created": STAMPS[0],
                "modified": STAMPS[0],
                "name": self._marker(),
                "schema": "https://example.org/" + self._marker(),
                "version": "1.0",
                "extension_types": ["property-extension", "new-sdo"],
                "object_marking_refs": [self.rng.choice(list(TLP)).marking_id],
            }
        )
        for obj in made:
            received = self.rng.random() < 0.2 and obj["type"] != "extension-definition"
            versions = [obj]
            if "modified" in obj and self.rng.random() < 0.3:  # a newer version, re-marked
                newer = {**obj, "modified": STAMPS[2], "x_note": self._marker()}
                marks = self._marks()
                if marks:
                    newer["object_marking_refs"] = marks
                else:
                    newer.pop("object_marking_refs", None)
                versions.append(newer)
            for version in versions:
                level = _level(version, self.community)
                kind = "taxii" if received else "local"
                ws.store.put_many(
                    [(version, int(level))],
                    provenance=Provenance(kind, "csirtamericas" if received else "tester"),
                )
                out.versions.append((version, kind, level))
            members = self.rng.sample(self.parties, self.rng.randint(0, 3))
            if members:
                ws.store.add_audience(obj["id"], "org", members)
                out.audience[obj["id"]] = members
        return out

    def _object(self, made: list[dict[str, Any]]) -> dict[str, Any]:
        rng = self.rng
        stamp = rng.choice(STAMPS[:2])
        targets = [o["id"] for o in made] or [UNKNOWN_IDENTITY]
        kind = rng.choice(
            [
                "indicator",
                "indicator",
                "indicator",
                "ipv4-addr",
                "relationship",
                "sighting",
                "report",
                "note",
                "incident",
                "task",
                "x-custom",
            ]
        )
        if kind == "ipv4-addr":
            obj: dict[str, Any] = {
                "type": kind,
                "spec_version": "2.1",
                "id": self._id(kind),
                "value": f"198.51.100.{rng.randint(1, 254)}",
                "x_label": self._marker(),
            }
            marks = self._marks()
            if marks:
                obj["object_marking_refs"] = marks
            return obj
        obj = self._common(kind, stamp)
        if kind == "indicator":
            obj.update(
                name=self._marker(),
                pattern="[ipv4-addr:value = '192.0.2.1']",
                pattern_type="stix",
                valid_from=STAMPS[0],
            )
        elif kind == "relationship":
            obj.update(
                relationship_type="related-to",
                source_ref=rng.choice(targets),
                target_ref=rng.choice(targets),
                description=self._marker(),
            )
        elif kind == "sighting":
            obj.update(sighting_of_ref=rng.choice(targets), description=self._marker())
        elif kind in ("report", "note"):
            refs = rng.sample(targets, min(len(targets), rng.randint(1, 4)))
            if kind == "report":
                obj.update(name=self._marker(), published=STAMPS[0], object_refs=refs)
            else:
                obj.update(content=self._marker(), object_refs=refs)
        elif kind == "incident":
            obj.update(
                name=self._marker(),
                extensions={
                    OUR_EXTENSION_ID: {
                        "extension_type": "property-extension",
                        "reference": f"BZ-2026-{rng.randint(1, 9999):04d}",
                        "affected_organisations": rng.sample(self.parties, rng.randint(1, 3)),
                    }
                },
            )
        elif kind == "task":
            obj.update(
                name=self._marker(),
                extensions={
                    TASK_EXTENSION_ID: {
                        "extension_type": "property-extension",
                        "incident_ref": rng.choice(targets),
                        "parties": rng.sample(self.parties, rng.randint(1, 3)),
                    }
                },
            )
        else:
            obj.update(name=self._marker())
        roll = rng.random()
        if roll < 0.15:  # a custom reference, nested
            obj["x_links"] = {"seen": [{"where_ref": rng.choice(targets)}], "x_marker": self._marker()}
        elif roll < 0.25:  # a value naming a party
            obj["x_told"] = rng.sample(self.parties, 2)
        elif roll < 0.32:  # an extension
            obj.setdefault("extensions", {})[EXTENSION] = {
                "extension_type": "property-extension",
                "x_codename": self._marker(),
            }
        elif roll < 0.4 and kind == "indicator":  # a granular marking
            obj["description"] = self._marker()
            obj["granular_markings"] = [
                {"marking_ref": rng.choice(list(TLP)).marking_id, "selectors": ["description"]}
            ]
        return obj


def _level(obj: dict[str, Any], community: Community) -> TLP:
    from cirt.tlp import level_of_marking

    levels = [level_of_marking(m) for m in obj.get("object_marking_refs", ())]
    if any(level is None for level in levels):
        return TLP.RED  # a marking nobody here knows: stored at the most restrictive level
    known = [level for level in levels if level is not None]
    return max(known) if known else community.default_tlp
