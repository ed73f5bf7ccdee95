"""Traffic Light Protocol 2.0: the levels, their order and their STIX 2.1 marking definitions.

Pure: no I/O.  The marking-definition objects are the OASIS ones (cti-stix-common-objects, TLP 2.0
extension) byte for byte in content; the STIX 2.1 TLP 1.0 ids are understood on input only.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum
from typing import Any

from cirt.errors import InvalidValue

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"


class TLP(IntEnum):
    """The five TLP 2.0 labels; the integer order is the restriction order."""

    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        """The label as FIRST writes it, e.g. ``TLP:AMBER+STRICT``."""
        return "TLP:" + self.slug.upper()

    @property
    def slug(self) -> str:
        """The lower-case value of ``tlp_2_0`` and of MISP ``tlp:`` tags."""
        return self.name.lower().replace("_", "+")

    @property
    def marking_id(self) -> str:
        return TLP2_MARKING_IDS[self]

    @classmethod
    def parse(cls, text: str) -> TLP:
        """Read a label as people type it: ``amber+strict``, ``TLP:RED``, ``white`` (= CLEAR)."""
        key = text.strip().upper().removeprefix("TLP:").replace("-", "+").replace("_", "+")
        if key == "WHITE":
            return cls.CLEAR
        for level in cls:
            if level.slug.upper() == key:
                return level
        raise InvalidValue(f"'{text}' is not a TLP label (use one of: {', '.join(TLP_NAMES)})")


TLP_NAMES = tuple(level.slug for level in TLP)

TLP2_MARKING_IDS: dict[TLP, str] = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

TLP1_MARKING_IDS: dict[str, TLP] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,  # TLP:WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
}

_LEVEL_BY_MARKING_ID: dict[str, TLP] = {
    **{mid: level for level, mid in TLP2_MARKING_IDS.items()},
    **TLP1_MARKING_IDS,
}

# FIRST's colours: the label in its colour on black.
TLP_COLOURS: dict[TLP, str] = {
    TLP.CLEAR: "#FFFFFF",
    TLP.GREEN: "#33FF00",
    TLP.AMBER: "#FFC000",
    TLP.AMBER_STRICT: "#FFC000",
    TLP.RED: "#FF2B2B",
}

TLP2_EXTENSION_DEFINITION: dict[str, Any] = {
    "id": TLP2_EXTENSION_ID,
    "type": "extension-definition",
    "spec_version": "2.1",
    "name": "TLP 2.0",
    "description": "This defines TLP 2.0 as a STIX extension",
    "created": "2022-10-01T00:00:00.000Z",
    "modified": "2022-10-01T00:00:00.000Z",
    "created_by_ref": "identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01",
    "schema": "https://github.com/oasis-open/cti-stix-common-objects/tree/master/"
    "extension-definition-specifications/tlp-2.0",
    "version": "1.0.0",
    "extension_types": ["property-extension"],
}


def marking_definition(level: TLP) -> dict[str, Any]:
    """The OASIS TLP 2.0 marking-definition object for ``level`` (a fresh dict each call)."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_MARKING_IDS[level],
        "created": "2022-10-01T00:00:00.000Z",
        "name": level.label,
        "extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": level.slug}},
    }


def tlp1_marking_definition(marking_id: str) -> dict[str, Any]:
    """The STIX 2.1 predefined TLP 1.0 marking definition for one of its four ids."""
    level = TLP1_MARKING_IDS[marking_id]
    colour = "white" if level is TLP.CLEAR else level.slug
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": f"TLP:{colour.upper()}",
        "definition": {"tlp": colour},
    }


def level_of_marking(marking_id: str) -> TLP | None:
    """The TLP level a marking-definition id stands for (2.0 or 1.0), or None if it is not TLP."""
    return _LEVEL_BY_MARKING_ID.get(marking_id)


def is_tlp_marking(marking_id: str) -> bool:
    return marking_id in _LEVEL_BY_MARKING_ID


def effective_level(marking_ids: Iterable[str], default: TLP) -> TLP:
    """The level that holds for an object: the most restrictive TLP marking, else ``default``."""
    found = [lvl for mid in marking_ids if (lvl := _LEVEL_BY_MARKING_ID.get(mid)) is not None]
    return max(found) if found else default


def object_level(obj: dict[str, Any], default: TLP) -> TLP:
    """The object-level TLP of a STIX object (its ``object_marking_refs``)."""
    return effective_level(obj.get("object_marking_refs", ()), default)


def marking_definitions_for(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The TLP marking definitions (and the TLP 2.0 extension definition) the objects reference.

    TLP 1.0 ids received from peers are kept as received, so their predefined STIX 2.1
    definitions travel too.
    """
    present: set[str] = set()
    levels: set[TLP] = set()
    tlp1: set[str] = set()
    for obj in objects:
        present.add(obj.get("id", ""))
        refs = list(obj.get("object_marking_refs", ()))
        refs += [g.get("marking_ref", "") for g in obj.get("granular_markings", ())]
        for ref in refs:
            if ref in TLP1_MARKING_IDS:
                tlp1.add(ref)
            elif ref in _LEVEL_BY_MARKING_ID:
                levels.add(_LEVEL_BY_MARKING_ID[ref])
    defs = [marking_definition(lvl) for lvl in sorted(levels) if TLP2_MARKING_IDS[lvl] not in present]
    if levels and TLP2_EXTENSION_ID not in present:
        defs.insert(0, dict(TLP2_EXTENSION_DEFINITION))
    defs += [tlp1_marking_definition(ref) for ref in sorted(tlp1 - present)]
    return defs
