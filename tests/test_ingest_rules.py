"""The rules of the one door in, each as a specification: versions by instant, conflicts,
ownership by declared identities, immutable markings, limits from config.toml, real data kept
whole (references outside the input, SCOs, STIX 2.0 observed-data, MISP composite types and bare
events), and a round trip of everything the toolkit writes into a fresh workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cirt.errors import InputRejected
from cirt.ingest import ingest
from cirt.misp.to_stix import events_in, events_to_stix
from cirt.store import Provenance
from cirt.tlp import TLP
from cirt.untrusted_json import parse_json
from cirt.workspace import Workspace
from tests.conftest import REFERENCE
from tests.taxii_fixtures import indicator

CSIRTAMERICAS = "identity--b960b001-fd33-513f-b191-b35fc53c8f24"
FROM_PARTNER = Provenance("taxii", "csirtamericas", "c")
EXAMPLES = REFERENCE / "stix-examples"


def _ind(n: int, **extra: Any) -> dict[str, Any]:
    return {**indicator(n, prefix="1a1a"), "created_by_ref": CSIRTAMERICAS, **extra}


# --- versions ------------------------------------------------------------------------------------


def test_one_instant_is_one_version_however_it_is_spelled(ws: Workspace) -> None:
    first = _ind(1, modified="2026-03-01T10:00:00Z")
    assert ingest(ws.context, [first], FROM_PARTNER).new == 1
    again = ingest(
        ws.context,
        [_ind(1, modified="2026-03-01T10:00:00.000Z"), _ind(1, modified="2026-03-01T10:00:00.000000Z")],
        FROM_PARTNER,
    )
    assert (again.new, again.updated, again.duplicates) == (0, 0, 2)
    assert len(ws.store.history(first["id"])) == 1


def test_versions_are_ordered_by_instant_not_by_text(ws: Workspace) -> None:
    later = _ind(2, modified="2026-03-01T10:00:00.500Z", name="later")
    earlier = _ind(2, modified="2026-03-01T10:00:00Z", name="earlier")  # sorts after as text
    ingest(ws.context, [later], FROM_PARTNER)
    ingest(ws.context, [earlier], FROM_PARTNER)
    latest = ws.store.get(later["id"])
    assert latest is not None and latest.obj["name"] == "later"
    assert [v.obj["name"] for v in ws.store.history(later["id"])] == ["earlier", "later"]


def test_the_same_version_with_other_content_from_a_second_source_is_a_conflict(ws: Workspace) -> None:
    original = _ind(3)
    ingest(ws.context, [original], FROM_PARTNER)
    other = ingest(
        ws.context, [{**original, "name": "rewritten"}], Provenance("taxii", "csirtamericas", "mirror")
    )
    assert other.stored == 0 and other.duplicates == 0
    assert [ref for ref, _ in other.conflicts] == [original["id"]]
    assert "already held with other content (the first is kept)" in other.conflicts[0][1]
    stored = ws.store.get(original["id"])
    assert stored is not None and stored.obj["name"] == original["name"]
    (logged,) = [r for r in ws.store.ingest_log() if r.outcome == "conflict"]
    assert logged.object_id == original["id"] and logged.source == "csirtamericas"


# --- ownership -----------------------------------------------------------------------------------


def test_a_party_asserts_the_identities_sectors_yaml_declares_for_it(home: Path) -> None:
    relayed = "identity--0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
    obj = _ind(4, created_by_ref=relayed)
    with Workspace.open(home) as ws:
        refused = ingest(ws.context, [obj], FROM_PARTNER)
        assert "not an identity taxii source 'csirtamericas' may assert" in refused.rejected[0][1]
    sectors = home / "sectors.yaml"
    sectors.write_text(
        sectors.read_text().replace(
            "  - id: csirtamericas\n", f"  - id: csirtamericas\n    asserts: [{relayed}]\n"
        )
    )
    with Workspace.open(home) as ws:
        assert ingest(ws.context, [obj], FROM_PARTNER).new == 1


def test_no_party_may_be_declared_to_assert_the_national_cirt(home: Path, cli: Any) -> None:
    sectors = home / "sectors.yaml"
    sectors.write_text(
        sectors.read_text().replace(
            "  - id: csirtamericas\n",
            "  - id: csirtamericas\n    asserts: [identity--e33b703c-a631-5672-a1bc-d5c26b3e3afa]\n",
        )
    )
    result = cli("check")
    assert result.code == 1
    assert "no party may assert the national CIRT's identity" in result.out + result.err


def test_an_unaffiliated_file_may_not_speak_for_a_party_but_for_anyone_else(ws: Workspace) -> None:
    file = Provenance("import", "vendor-feed.json")
    assert ingest(ws.context, [_ind(5)], file).rejected  # CSIRTAmericas is declared in sectors.yaml
    stranger = {**_ind(6), "created_by_ref": "identity--5f5f5f5f-0000-4000-8000-000000000001"}
    assert ingest(ws.context, [stranger], file).new == 1


# --- markings ------------------------------------------------------------------------------------


def test_the_official_tlp_definitions_are_accepted_as_they_are(ws: Workspace) -> None:
    bundle = json.loads(
        (
            REFERENCE
            / "stix-common-objects"
            / "tlp-2.0"
            / "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487.tlp-clear.json"
        ).read_text()
    )
    summary = ingest(ws.context, bundle["objects"], FROM_PARTNER)
    assert summary.rejected == []


def test_a_received_object_keeps_the_higher_level_held_locally(ws: Workspace) -> None:
    ours = _ind(7, object_marking_refs=[TLP.GREEN.marking_id])
    ingest(ws.context, [ours], FROM_PARTNER)
    ws.store.db.execute("UPDATE objects SET tlp = ? WHERE id = ?", (int(TLP.RED), ours["id"]))
    newer = ingest(ws.context, [{**ours, "modified": "2026-04-01T00:00:00.000Z"}], FROM_PARTNER)
    assert newer.updated == 1
    latest = ws.store.get(ours["id"])
    assert latest is not None and latest.tlp == TLP.RED


def test_a_misp_attribute_never_gets_a_lower_level_than_its_event() -> None:
    event = {
        "uuid": "6a6a6a6a-0000-4000-8000-000000000001",
        "info": "e",
        "distribution": "1",
        "Tag": [{"name": "tlp:amber"}],
        "Attribute": [
            {
                "uuid": "6a6a6a6a-0000-4000-8000-0000000000a1",
                "type": "ip-dst",
                "value": "192.0.2.1",
                "to_ids": True,
                "Tag": [{"name": "tlp:clear"}],
            }
        ],
    }
    converted = events_to_stix([event])
    (indicator_obj,) = [o for o in converted.objects if o["type"] == "indicator"]
    assert indicator_obj["object_marking_refs"] == [TLP.AMBER.marking_id]


# --- limits --------------------------------------------------------------------------------------


def test_limits_come_from_config_toml_and_are_checked_before_the_work(
    home: Path, cli: Any, tmp_path: Path
) -> None:
    (home / "config.toml").write_text(
        (home / "config.toml").read_text() + "\n[import]\nmax_objects = 2\nmax_bytes = 100000\n"
    )
    bundle = tmp_path / "three.json"
    bundle.write_text(
        json.dumps(
            {
                "type": "bundle",
                "id": "bundle--" + "1" * 8 + "-1111-4111-8111-" + "1" * 12,
                "objects": [indicator(n) for n in range(3)],
            }
        )
    )
    result = cli("import", str(bundle))
    assert result.code == 1
    assert "3 objects in one document (the limit is 2, [import] max_objects)" in result.err
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 100_001)
    assert "(the limit is 100,000, [import] max_bytes)" in cli("import", str(big)).err
    with Workspace.open(home) as ws:
        assert [r.outcome for r in ws.store.ingest_log()] == ["refused", "refused"]


def test_a_bad_limit_is_named(tmp_path: Path) -> None:
    from cirt.config import load_config
    from cirt.errors import ConfigError

    (tmp_path / "config.toml").write_text("[import]\nmax_objects = 0\n")
    with pytest.raises(ConfigError, match=r"config\.toml:2: import\.max_objects: must be greater"):
        load_config(tmp_path)


def test_many_granular_markings_are_validated_in_linear_time(ws: Workspace, home: Path) -> None:
    """10,000 granular markings under a raised limit: each selector is followed once (stix2
    walks the whole object per selector: quadratic, 92 s for 2,000)."""
    obj = _ind(8, granular_markings=[{"marking_ref": TLP.RED.marking_id, "selectors": ["name"]}] * 10_000)
    assert (
        "10,000 granular markings (the limit is 1,000"
        in ingest(ws.context, [obj], FROM_PARTNER).rejected[0][1]
    )
    (home / "config.toml").write_text(
        (home / "config.toml").read_text() + "\n[import]\nmax_granular_markings = 20000\n"
    )
    with Workspace.open(home) as raised:
        assert ingest(raised.context, [obj], FROM_PARTNER).new == 1
        wrong = _ind(9, granular_markings=[{"marking_ref": TLP.RED.marking_id, "selectors": ["description"]}])
        assert "names nothing in the object" in ingest(raised.context, [wrong], FROM_PARTNER).rejected[0][1]


def test_a_bundle_that_names_its_content_2_1_is_read_as_2_1(tmp_path: Path) -> None:
    """OpenCTI's exports put ``spec_version: "2.1"`` on the bundle (stix2 reads it as the version
    of the content); any other version is refused as a whole."""
    from cirt.ingest import read_source

    bundle = {
        "type": "bundle",
        "id": "bundle--" + "2" * 8 + "-2222-4222-8222-" + "2" * 12,
        "spec_version": "2.1",
        "objects": [_ind(12)],
    }
    path = tmp_path / "opencti.json"
    path.write_text(json.dumps(bundle))
    incoming = read_source(str(path))
    assert (incoming.kind, incoming.objects) == ("stix-2.1", [_ind(12)])
    path.write_text(json.dumps({**bundle, "spec_version": "2.2"}))
    with pytest.raises(InputRejected, match=r"a bundle of spec_version '2\.2'"):
        read_source(str(path))


def test_max_references_counts_references_at_any_depth(home: Path) -> None:
    """Granular markings' ``marking_ref`` sit inside a list of objects: they count as much as the
    top-level ``*_refs`` entries do (``cirt.stix_refs``, the one reference walker)."""
    (home / "config.toml").write_text((home / "config.toml").read_text() + "\n[import]\nmax_references = 5\n")
    nested = [{"marking_ref": TLP.GREEN.marking_id, "selectors": ["name"]}] * 3
    at_limit = _ind(10, granular_markings=nested)  # creator, one marking, 3 nested: 5
    over = _ind(
        11, granular_markings=nested, object_marking_refs=[TLP.GREEN.marking_id, TLP.AMBER.marking_id]
    )
    with Workspace.open(home) as ws:
        summary = ingest(ws.context, [at_limit, over], FROM_PARTNER)
    assert summary.new == 1
    assert summary.rejected == [(over["id"], "6 references (the limit is 5, [import] max_references)")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"a": 12345678901234567890}', "the integer 12345678901234567890 is beyond"),
        (b'{"a": -1e999}', "the number -1e999 is beyond"),
        (b'{"a": 1.5, "b": 9007199254740991}', ""),
    ],
)
def test_numbers_beyond_json_interchange_are_refused(text: bytes, message: str) -> None:
    if not message:
        assert parse_json(text, "x") == {"a": 1.5, "b": 9007199254740991}
        return
    with pytest.raises(InputRejected, match=message):
        parse_json(text, "x")


# --- real data, whole ----------------------------------------------------------------------------


def test_references_outside_the_input_are_kept_on_every_path(ws: Workspace) -> None:
    relationship = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": "relationship--6f9a5c1e-7a39-4f5b-9d5e-1b2f37c2d0a1",
        "created": "2026-02-01T10:00:00.000Z",
        "modified": "2026-02-01T10:00:00.000Z",
        "relationship_type": "indicates",
        "created_by_ref": CSIRTAMERICAS,
        "source_ref": "indicator--3a7c2b1d-9e8f-4a6b-8c5d-0e1f2a3b4c5d",
        "target_ref": "malware--2f1a0c1e-6b7b-4d7e-8f43-0d4f9e0a7c55",
    }
    for provenance in (
        FROM_PARTNER,
        Provenance("import", "csirtamericas"),
        Provenance("misp", "csirtamericas"),
    ):
        summary = ingest(ws.context, [relationship], provenance)
        assert summary.rejected == [] and summary.stored + summary.duplicates == 1


def test_scos_are_current_and_leave_in_the_export(cli: Any, tmp_path: Path) -> None:
    sco = {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
        "value": "198.51.100.3",
    }
    bundle = tmp_path / "sco.json"
    bundle.write_text(
        json.dumps(
            {"type": "bundle", "id": "bundle--" + "2" * 8 + "-2222-4222-8222-" + "2" * 12, "objects": [sco]}
        )
    )
    assert cli("import", str(bundle)).code == 0
    exported = json.loads(cli("export").out)
    assert sco in exported["objects"]


def test_stix20_observed_data_becomes_observables_with_their_references(ws: Workspace) -> None:
    from cirt.ingest import classify

    bundle = {
        "type": "bundle",
        "id": "bundle--3a3a3a3a-0000-4000-8000-000000000000",
        "spec_version": "2.0",
        "objects": [
            {
                "type": "observed-data",
                "id": "observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf",
                "created": "2016-04-06T19:58:16.000Z",
                "modified": "2016-04-06T19:58:16.000Z",
                "first_observed": "2015-12-21T19:00:00Z",
                "last_observed": "2015-12-21T19:00:00Z",
                "number_observed": 50,
                "objects": {
                    "0": {"type": "ipv4-addr", "value": "198.51.100.3"},
                    "1": {"type": "ipv4-addr", "value": "203.0.113.5"},
                    "2": {"type": "network-traffic", "src_ref": "0", "dst_ref": "1", "protocols": ["tcp"]},
                },
            }
        ],
    }
    incoming = classify(bundle, "2.0 bundle")
    summary = ingest(
        ws.context,
        incoming.objects,
        Provenance("import", "old-feed.json"),
        refused=incoming.refused,
        notes=incoming.notes,
    )
    assert summary.rejected == [] and summary.new == 4
    observed = ws.store.get("observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf")
    assert observed is not None
    traffic_id = next(r for r in observed.obj["object_refs"] if r.startswith("network-traffic"))
    traffic = ws.store.get(traffic_id)
    assert traffic is not None
    assert {traffic.obj["src_ref"], traffic.obj["dst_ref"]} <= set(observed.obj["object_refs"])


@pytest.mark.parametrize(
    ("kind", "value", "pattern"),
    [
        (
            "filename|md5",
            "a.exe|d41d8cd98f00b204e9800998ecf8427e",
            "[file:name = 'a.exe' AND file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
        ),
        (
            "filename|sha256",
            "a.exe|" + "ab" * 32,
            "[file:name = 'a.exe' AND file:hashes.'SHA-256' = '" + "ab" * 32 + "']",
        ),
        (
            "ip-dst|port",
            "203.0.113.5|443",
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value ="
            " '203.0.113.5' AND network-traffic:dst_port = 443]",
        ),
        ("ssdeep", "3:abc:def", "[file:hashes.SSDEEP = '3:abc:def']"),
        ("regkey", "HKLM\\Software\\x", "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Software\\\\x']"),
    ],
)
def test_misp_composite_types_map_as_misp_stix_maps_them(
    ws: Workspace, kind: str, value: str, pattern: str
) -> None:
    event = {
        "uuid": "6b6b6b6b-0000-4000-8000-000000000001",
        "info": "composite",
        "Attribute": [
            {"uuid": "6b6b6b6b-0000-4000-8000-0000000000a1", "type": kind, "value": value, "to_ids": True},
            {"uuid": "6b6b6b6b-0000-4000-8000-0000000000a2", "type": kind, "value": value, "to_ids": False},
        ],
    }
    converted = events_to_stix(events_in(event, "bare event"))
    (made,) = [o for o in converted.objects if o["type"] == "indicator"]
    assert made["pattern"] == pattern
    summary = ingest(ws.context, converted.objects, Provenance("misp", "csirtamericas"))
    assert summary.rejected == [], summary.rejected


def test_a_misp_vulnerability_becomes_a_vulnerability(ws: Workspace) -> None:
    event = {
        "Event": {
            "uuid": "6c6c6c6c-0000-4000-8000-000000000001",
            "info": "cve",
            "Attribute": [
                {
                    "uuid": "6c6c6c6c-0000-4000-8000-0000000000a1",
                    "type": "vulnerability",
                    "value": "CVE-2021-44228",
                }
            ],
        }
    }
    converted = events_to_stix(events_in(event, "event"))
    (vulnerability,) = [o for o in converted.objects if o["type"] == "vulnerability"]
    assert vulnerability["external_references"] == [{"source_name": "cve", "external_id": "CVE-2021-44228"}]
    assert ingest(ws.context, converted.objects, Provenance("misp", "csirtamericas")).rejected == []


def test_bare_misp_event_json_is_read_as_pymisp_reads_it(cli: Any, tmp_path: Path) -> None:
    from pymisp import MISPEvent

    bare = {
        "uuid": "6d6d6d6d-0000-4000-8000-000000000001",
        "info": "bare",
        "Attribute": [
            {
                "uuid": "6d6d6d6d-0000-4000-8000-0000000000a1",
                "type": "domain",
                "value": "evil.example",
                "to_ids": True,
            }
        ],
    }
    loaded = MISPEvent()
    loaded.from_dict(**bare)
    assert loaded.info == "bare"
    path = tmp_path / "bare.json"
    path.write_text(json.dumps(bare))
    result = cli("import", str(path), "--json")
    assert result.code == 0 and result.json()["kind"] == "misp-event"
    assert result.json()["new"] == 2


# --- round trip ----------------------------------------------------------------------------------


def _latest(home: Path) -> dict[str, dict[str, Any]]:
    with Workspace.open(home) as ws:
        return {o.id: o.obj for o in ws.store.latest_objects()}


def test_every_bundle_the_toolkit_writes_imports_back_whole(tmp_path: Path, cli: Any, home: Path) -> None:
    """Import the OASIS examples, export them, import the export into a fresh workspace: equal,
    object for object.  (Two examples reuse one indicator id under different creators: the
    second is refused, as STIX 2.1 §3.6 says, and is not part of what is compared.)"""
    for example in sorted(EXAMPLES.glob("*.json")):
        assert cli("import", str(example), "--allow-custom").code == 0
    held = _latest(home)
    own = tmp_path / "own.json"
    assert cli("export", "-o", str(own)).code == 0
    for name, path, source in (("own", own, "cirt-bz"),):
        fresh = tmp_path / f"fresh-{name}"
        Workspace.init(fresh).close()
        back = cli("--home", str(fresh), "import", str(path), "--source", source, "--allow-custom", "--json")
        assert back.code == 0, back.err
        assert back.json()["rejected"] == [], back.json()["rejected"]
        restored = _latest(fresh)
        assert {k: v for k, v in restored.items() if k in held} == held
        written = {o["id"]: o for o in json.loads(path.read_text())["objects"]}
        assert set(restored) == set(written)
