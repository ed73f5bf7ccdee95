"""Rejection classes found on public real data where cirt was stricter than STIX 2.1 and the OASIS
validator (issue 10, "Real data, whole").  Each test holds a minimal excerpt of the shape that was
refused; the source file is named in its docstring (the corpus itself stays out of the repository).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cirt.ingest import classify, ingest
from cirt.stix_validation import check_object, validate_objects
from cirt.store import Provenance
from cirt.tlp import TLP, TLP2_MARKING_IDS
from cirt.workspace import Workspace

IDENTITY: dict[str, Any] = {
    "type": "identity",
    "spec_version": "2.1",
    "id": "identity--360f3368-b911-4bb1-a7f9-0a8e4ef4e023",
    "created": "2020-02-23T23:40:53.575Z",
    "modified": "2020-02-23T23:40:53.575Z",
    "name": "Information Technologies Consulting",
    "identity_class": "class",
}


def test_a_bundle_carrying_spec_version_2_1_is_read_as_stix_2_1() -> None:
    """OpenCTI's bundle splitter writes ``spec_version: "2.1"`` and ``x_opencti_seq`` on every
    bundle it emits (OpenCTI-Platform/client-python tests/data/mono-bundle-entity.json).  A 2.1
    bundle has no spec_version (STIX 2.1 §8), so the property is custom: the OASIS validator only
    warns about it ({401}); it says nothing about the objects, which are STIX 2.1."""
    bundle = {
        "id": "bundle--1f126d0c-356c-43af-88f8-7a3b695dee83",
        "objects": [IDENTITY],
        "spec_version": "2.1",
        "type": "bundle",
        "x_opencti_seq": 1,
    }
    incoming = classify(bundle, "mono-bundle-entity.json")
    assert incoming.kind == "stix-2.1"
    assert incoming.objects == [IDENTITY] and incoming.refused == {}


TLP_CLEAR = TLP2_MARKING_IDS[TLP.CLEAR]

# OpenCTI-Platform/client-python tests/data/DATA-TEST-STIX2_v2.json: a marking of OpenCTI's own
# kind and a campaign it marks.
OPENCTI_MARKING: dict[str, Any] = {
    "id": "marking-definition--78ca4366-f5b8-4764-83f7-34ce38198e27",
    "type": "marking-definition",
    "spec_version": "2.1",
    "definition_type": "TLP",
    "definition": {"TLP": "TLP:TEST"},
    "created": "2020-02-25T09:02:29.040Z",
    "modified": "2020-02-25T09:02:29.040Z",
}
OPENCTI_CAMPAIGN: dict[str, Any] = {
    "id": "campaign--92d46985-17a6-4610-8be8-cc70c82ed214",
    "type": "campaign",
    "spec_version": "2.1",
    "name": "A new campaign",
    "labels": ["campaign"],
    "description": "A test campaign",
    "first_seen": "2020-02-27T08:45:43.365Z",
    "last_seen": "2020-02-27T08:45:43.365Z",
    "created": "2020-02-29T14:48:31.601Z",
    "modified": "2020-02-29T14:48:31.601Z",
    "object_marking_refs": ["marking-definition--78ca4366-f5b8-4764-83f7-34ce38198e27"],
}


def test_a_marking_definition_of_a_custom_type_is_custom_content() -> None:
    """STIX 2.1 §7.2.1: definition_type SHOULD be statement or tlp; the OASIS schema
    (common/marking-definition.json) accepts any other type with an object as definition, and so
    does the OASIS validator.  ``stix2`` refuses any type it has no class for, even with custom
    content allowed.  What the marking means is the gate's business: it withholds an object whose
    non-TLP marking sectors.yaml does not translate (fail closed)."""
    assert check_object(OPENCTI_MARKING, allow_custom=True) == ""
    assert "custom" in check_object(OPENCTI_MARKING, allow_custom=False)
    for definition in ("TLP:TEST", ["TLP:TEST"]):
        reason = check_object({**OPENCTI_MARKING, "definition": definition}, allow_custom=True)
        assert "definition" in reason


@pytest.mark.parametrize("definition_type", ["tlp", "statement"])
def test_the_standard_marking_types_are_still_checked_by_their_definitions(definition_type: str) -> None:
    assert check_object({**OPENCTI_MARKING, "definition_type": definition_type}, allow_custom=True) != ""


def test_objects_marked_with_a_custom_type_marking_import_with_it(ws: Workspace) -> None:
    summary = ingest(
        ws.context,
        [OPENCTI_MARKING, OPENCTI_CAMPAIGN],
        Provenance("import", "DATA-TEST-STIX2_v2.json"),
        allow_custom=True,
    )
    assert summary.rejected == [] and summary.new == 2
    stored = ws.store.get(OPENCTI_CAMPAIGN["id"])
    assert stored is not None and stored.obj == OPENCTI_CAMPAIGN


def test_one_sco_id_with_two_contents_keeps_the_first_and_says_scos_are_unversioned() -> None:
    """oasis-open/cti-python-stix2 sco-examples-bundle.json holds example.com twice, the second
    time with resolves_to_refs.  An SCO has no modified (STIX 2.1 §6), so the two cannot be told
    apart as versions: the first is kept and the reason says why (it read "version ()")."""
    bare = {
        "type": "domain-name",
        "spec_version": "2.1",
        "id": "domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5",
        "value": "example.com",
    }
    resolved = {**bare, "resolves_to_refs": ["ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"]}
    verdict = validate_objects([bare, resolved])
    assert verdict.accepted == [(0, bare)]
    assert [(r.index, r.id) for r in verdict.rejected] == [(1, bare["id"])]
    assert "SCOs are not versioned" in verdict.rejected[0].reason


def test_an_object_under_an_untranslated_custom_marking_is_withheld_from_release(
    cli: Any, tmp_path: Path
) -> None:
    """Accepting the marking at the door does not release what it marks: the gate withholds an
    object whose non-TLP marking sectors.yaml does not translate (fail closed), even beside
    TLP:CLEAR; the same object without it goes out."""
    plain = {
        **OPENCTI_CAMPAIGN,
        "id": "campaign--92d46985-17a6-4610-8be8-cc70c82ed215",
        "object_marking_refs": [TLP_CLEAR],
    }
    marked = {**OPENCTI_CAMPAIGN, "object_marking_refs": [TLP_CLEAR, OPENCTI_MARKING["id"]]}
    bundle = tmp_path / "opencti.json"
    bundle.write_text(
        json.dumps(
            {
                "type": "bundle",
                "objects": [OPENCTI_MARKING, marked, plain],
                "id": "bundle--8c939929-688f-4a72-badb-3dd1bd6af0fa",
            }
        )
    )
    assert cli("import", str(bundle), "--allow-custom").code == 0
    out = tmp_path / "public.json"
    assert cli("export", "--for", "public", "-o", str(out)).code == 0
    released = {o["id"] for o in json.loads(out.read_text())["objects"]}
    assert plain["id"] in released
    assert marked["id"] not in released
