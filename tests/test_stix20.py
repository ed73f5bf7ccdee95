"""STIX 2.0 in, STIX 2.1 stored: every 2.0 object upgraded as the 2.1 specification's list of
changes requires, and the OASIS validator agreeing that what comes out is valid 2.1.

Real data: a slice of MITRE ATT&CK enterprise as STIX 2.0 (tests/reference/mitre-attack, source
in tests/reference/SOURCES.md); ATT&CK has no indicators, reports, threat actors or observed
data, so those are written here from the 2.0 specification's examples.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from stix2validator import ValidationOptions, validate_instance

from cirt.ingest import classify, ingest
from cirt.stix20 import upgrade_stix20
from cirt.store import Provenance
from cirt.workspace import Workspace
from tests.conftest import REFERENCE

ATTACK = REFERENCE / "mitre-attack" / "enterprise-attack-2.0-slice.json"
CREATED = "2016-04-06T20:03:48.000Z"


def attack_objects() -> list[dict[str, Any]]:
    bundle = json.loads(ATTACK.read_text(encoding="utf-8"))
    assert bundle["spec_version"] == "2.0"
    objects: list[dict[str, Any]] = bundle["objects"]
    return objects


def oasis_errors(obj: dict[str, Any]) -> list[str]:
    result = validate_instance(obj, ValidationOptions(version="2.1"))
    return [str(e) for e in result.errors]


def _common(kind: str, n: int, **properties: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "id": f"{kind}--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd{n:02d}",
        "created": CREATED,
        "modified": CREATED,
        "created_by_ref": "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",
        "object_marking_refs": ["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"],
        **properties,
    }


INDICATOR = _common(
    "indicator",
    1,
    name="Poison Ivy Malware",
    labels=["malicious-activity"],
    pattern="[file:hashes.'SHA-256' = '" + "ab" * 32 + "']",
    valid_from="2016-01-01T00:00:00Z",
)
UNDATED_INDICATOR = _common(
    "indicator", 2, labels=["anomalous-activity"], pattern="[ipv4-addr:value = '198.51.100.1']"
)
THREAT_ACTOR = _common("threat-actor", 3, name="Evil Org", labels=["crime-syndicate"])
REPORT = _common(
    "report",
    4,
    name="The Black Vine Cyberespionage Group",
    labels=["campaign"],
    published="2016-01-20T17:00:00Z",
    object_refs=[INDICATOR["id"]],
)
OBSERVED = _common(
    "observed-data",
    5,
    first_observed="2015-12-21T19:00:00Z",
    last_observed="2015-12-21T19:00:00Z",
    number_observed=1,
    objects={
        "0": {
            "type": "file",
            "name": "a.exe",
            "created": "2015-12-21T19:00:00Z",
            "modified": "2015-12-21T19:00:00Z",
            "hashes": {"SHA-256": "cd" * 32},
        },
        "1": {
            "type": "directory",
            "path": "C:\\Windows",
            "accessed": "2015-12-21T19:00:00Z",
            "contains_refs": ["0"],
        },
        "2": {"type": "process", "pid": 1221, "created": "2015-12-21T19:00:00Z", "binary_ref": "0"},
        "3": {
            "type": "windows-registry-key",
            "key": "HKEY_LOCAL_MACHINE\\Run",
            "modified": "2015-12-21T19:00:00Z",
        },
    },
)
WRITTEN = [INDICATOR, UNDATED_INDICATOR, THREAT_ACTOR, REPORT, OBSERVED]


def test_the_attack_slice_is_not_valid_21_as_it_comes() -> None:
    """The test can fail: 2.0 objects lack what 2.1 requires (spec_version, is_family)."""
    assert all(oasis_errors(o) for o in attack_objects())


def test_every_upgraded_attack_object_is_valid_21_for_the_oasis_validator() -> None:
    objects = attack_objects()
    before = copy.deepcopy(objects)
    notes, refused = upgrade_stix20(objects)
    assert refused == {}
    assert {o["id"]: oasis_errors(o) for o in objects} == {o["id"]: [] for o in objects}
    assert "added spec_version '2.1' to 11 object(s)" in notes[0]
    for old, new in zip(before, objects, strict=True):
        assert new["spec_version"] == "2.1"
        for kept in ("id", "created", "modified", "created_by_ref", "object_marking_refs"):
            assert new.get(kept) == old.get(kept)
    (malware,) = [o for o in objects if o["type"] == "malware"]
    (old_malware,) = [o for o in before if o["type"] == "malware"]
    assert malware["is_family"] is True
    assert malware["malware_types"] == old_malware["labels"] and "labels" not in malware
    (tool,) = [o for o in objects if o["type"] == "tool"]
    assert "tool_types" in tool and "labels" not in tool


def test_the_attack_slice_is_stored_whole(ws: Workspace) -> None:
    incoming = classify(json.loads(ATTACK.read_text(encoding="utf-8")), ATTACK.name)
    summary = ingest(
        ws.context,
        incoming.objects,
        Provenance("import", ATTACK.name),
        allow_custom=True,
        refused=incoming.refused,
        notes=incoming.notes,
    )
    assert summary.rejected == [] and summary.new == 11
    assert incoming.kind == "stix-2.0"


def test_written_20_objects_upgrade_to_valid_21() -> None:
    objects = copy.deepcopy(WRITTEN)
    notes, refused = upgrade_stix20(objects)
    assert refused == {}
    assert {o["id"]: oasis_errors(o) for o in objects} == {o["id"]: [] for o in objects}
    indicator, undated, actor, report = objects[:4]
    assert indicator["pattern_type"] == "stix"
    assert indicator["indicator_types"] == ["malicious-activity"] and "labels" not in indicator
    assert indicator["valid_from"] == "2016-01-01T00:00:00Z"
    assert undated["valid_from"] == CREATED
    assert actor["threat_actor_types"] == ["crime-syndicate"]
    assert report["report_types"] == ["campaign"]
    assert "gave 1 indicator(s) without valid_from their created time" in notes[0]


def test_observed_data_observables_become_objects_with_21_names_and_references() -> None:
    objects = copy.deepcopy([OBSERVED])
    upgrade_stix20(objects)
    observed, *lifted = objects
    assert "objects" not in observed and observed["object_refs"] == [o["id"] for o in lifted]
    file, directory, process, key = lifted
    assert (file["ctime"], file["mtime"]) == ("2015-12-21T19:00:00Z",) * 2
    assert "created" not in file and "modified" not in file
    assert directory["atime"] == "2015-12-21T19:00:00Z"
    assert directory["contains_refs"] == [file["id"]]
    assert process["image_ref"] == file["id"] and process["created_time"]
    assert "binary_ref" not in process
    assert key["modified_time"] == "2015-12-21T19:00:00Z"
    assert all(o["object_marking_refs"] == OBSERVED["object_marking_refs"] for o in lifted)
    assert all(oasis_errors(o) == [] for o in objects)


def test_an_object_claiming_a_spec_version_inside_a_20_bundle_is_refused() -> None:
    objects: list[Any] = [{**INDICATOR, "spec_version": "2.1"}, copy.deepcopy(THREAT_ACTOR)]
    _, refused = upgrade_stix20(objects)
    assert refused == {0: "spec_version '2.1' inside a STIX 2.0 bundle"}


@pytest.mark.parametrize("kind", ["indicator", "malware", "report", "threat-actor", "tool"])
def test_labels_stay_where_21_already_states_the_vocabulary(kind: str) -> None:
    """A 2.0 object that already states its 2.1 vocabulary property keeps its labels as tags."""
    vocabulary = kind.replace("-", "_") + "_types"
    obj = {"type": kind, "labels": ["tag"], vocabulary: ["other"]}
    upgrade_stix20([obj])
    assert obj["labels"] == ["tag"] and obj[vocabulary] == ["other"]
