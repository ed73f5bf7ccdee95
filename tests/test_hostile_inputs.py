"""Hostile and malformed input: a clear message, a non-zero exit, never a traceback, and the
store exactly as it was.  The corpus is tests/hostile/ (cases.json names each file's expected
message); the huge inputs are generated here instead of being committed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.conftest import REFERENCE

HOSTILE = Path(__file__).parent / "hostile"
CASES = json.loads((HOSTILE / "cases.json").read_text())
SEED = REFERENCE / "stix-examples" / "indicators-for-C2-with-COA.json"


def snapshot(home: Path) -> tuple[int, str]:
    """Every stored version with its TLP, origin and provenance, as one digest."""
    ws = Workspace.open(home)
    try:
        digest = hashlib.sha256()
        rows = 0
        for stored in ws.store.latest_objects():
            for version in ws.store.history(stored.id):
                prov = ws.store.provenance_of(version.id, version.modified)
                digest.update(
                    f"{version.id}|{version.modified}|{version.tlp}|{version.origin}|"
                    f"{version.body}|{prov}\n".encode()
                )
                rows += 1
        return rows, digest.hexdigest()
    finally:
        ws.close()


@pytest.fixture
def seeded(cli, home: Path) -> tuple[int, str]:
    """A workspace that already holds a partner's bundle, so 'unchanged' means something."""
    assert cli("import", str(SEED)).code == 0
    return snapshot(home)


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert {c["file"] for c in CASES} == {p.name for p in HOSTILE.iterdir()} - {"cases.json"}


def test_each_hostile_file_gets_its_message_and_leaves_the_store_unchanged(
    cli, home: Path, seeded: tuple[int, str]
) -> None:
    """One workspace for the whole corpus (a fresh one per case costs minutes): every case is
    checked against the same seeded snapshot, so a case that changed the store is named."""
    failures = []
    for case in CASES:
        result = cli("import", str(HOSTILE / case["file"]), "--json")
        problem = ""
        if result.code != 1:
            problem = f"exit {result.code}"
        elif "Traceback" in result.err or "internal error" in result.err:
            problem = f"crashed: {result.err.strip()}"
        elif case["fails"] == "file":
            if result.out or case["message"] not in result.err:
                problem = f"message {result.err.strip()!r}"
        else:
            data = result.json()
            reasons = " | ".join(r["reason"] for r in data["rejected"])
            if data["new"] or data["updated"] or case["message"] not in reasons:
                problem = f"stored {data['new']}+{data['updated']}, reasons {reasons!r}"
        if not problem and snapshot(home) != seeded:
            problem = "the store changed"
        if problem:
            failures.append(f"{case['file']}: {problem}")
    assert failures == []


def test_json_nested_thousands_deep(cli, home: Path, seeded: tuple[int, str], tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"type": "bundle", "objects": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = cli("import", str(path))
    assert result.code == 1 and "nested too deeply" in result.err
    assert snapshot(home) == seeded


def test_nesting_inside_a_kept_custom_property_is_bounded(
    cli, home: Path, seeded: tuple[int, str], tmp_path: Path
) -> None:
    corpus = json.loads((HOSTILE / "custom-property.json").read_text())
    deep: Any = "bottom"
    for _ in range(200):
        deep = {"d": deep}
    corpus["objects"][0]["x_acme_score"] = deep
    path = tmp_path / "deep-custom.json"
    path.write_text(json.dumps(corpus))
    result = cli("import", str(path), "--allow-custom", "--json")
    assert result.code == 1
    assert "nested deeper than 32 levels" in result.json()["rejected"][0]["reason"]
    assert snapshot(home) == seeded


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_a_200_mb_string(cli, home: Path, seeded: tuple[int, str], tmp_path: Path) -> None:
    corpus = json.loads((HOSTILE / "control-character-nul.json").read_text())
    obj = corpus["objects"][0]
    obj["name"] = "C2 address"
    size = 200 * 1024 * 1024
    path = tmp_path / "huge.json"
    with path.open("w") as out:
        head = json.dumps({**obj, "description": ""})[: -len('""}')]
        out.write(
            '{"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",'
            ' "objects": [' + head + '"'
        )
        chunk = "A" * (1024 * 1024)
        for _ in range(size // len(chunk)):
            out.write(chunk)
        out.write('"}]}')
    result = cli("import", str(path), "--json")
    assert result.code == 1
    assert result.json()["rejected"][0]["reason"] == (
        "description is a string of 209,715,200 characters (the limit is 1,000,000)"
    )
    assert snapshot(home) == seeded


def test_a_misp_event_with_contradicting_tlp_tags_is_held_at_the_most_restrictive(
    cli, ws: Workspace, tmp_path: Path
) -> None:
    event = {
        "Event": {
            "uuid": "7c1d2e3f-4a5b-4c6d-8e7f-000000000001",
            "info": "Mixed signals",
            "timestamp": "1767225600",
            "distribution": "1",
            "Tag": [{"name": "tlp:clear"}, {"name": "tlp:red"}],
            "Attribute": [
                {
                    "uuid": "7c1d2e3f-4a5b-4c6d-8e7f-000000000002",
                    "type": "ip-dst",
                    "value": "198.51.100.77",
                    "to_ids": True,
                    "timestamp": "1767225600",
                }
            ],
        }
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    result = cli("import", str(path), "--json")
    assert result.code == 0
    data = result.json()
    assert data["kind"] == "misp-event" and data["new"] == 2
    assert (
        "MISP event 7c1d2e3f-4a5b-4c6d-8e7f-000000000001 carries contradicting TLP tags"
        " tlp:clear, tlp:red: treated as TLP:RED"
    ) in data["notes"]
    stored = ws.store.get("indicator--7c1d2e3f-4a5b-4c6d-8e7f-000000000002")
    assert stored is not None and stored.tlp == TLP.RED


def test_a_misp_event_without_tlp_gets_the_default(cli, ws: Workspace, tmp_path: Path) -> None:
    event = {
        "Event": {
            "uuid": "7c1d2e3f-4a5b-4c6d-8e7f-000000000003",
            "info": "No label",
            "timestamp": "1767225600",
            "Attribute": [
                {
                    "uuid": "7c1d2e3f-4a5b-4c6d-8e7f-000000000004",
                    "type": "domain",
                    "value": "x.example",
                    "to_ids": True,
                }
            ],
        }
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    data = cli("import", str(path), "--json").json()
    assert any("has no tlp: tag" in n for n in data["notes"])
    stored = ws.store.get("indicator--7c1d2e3f-4a5b-4c6d-8e7f-000000000004")
    assert stored is not None and stored.tlp == ws.community.default_tlp
