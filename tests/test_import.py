"""`cirt import` and `cirt.ingest.ingest`: lossless, idempotent, TLP kept, all-or-nothing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from cirt.ingest import ingest
from cirt.store import Provenance
from cirt.tlp import TLP, TLP1_MARKING_IDS, TLP2_MARKING_IDS
from cirt.workspace import Workspace
from tests.conftest import REFERENCE

EXAMPLES = sorted((REFERENCE / "stix-examples").glob("*.json"))
AMBER_1_0 = next(k for k, v in TLP1_MARKING_IDS.items() if v is TLP.AMBER)


def indicator(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=n, version=4)}",
        "created": "2026-02-01T10:00:00.000Z",
        "modified": "2026-02-01T10:00:00.000Z",
        "name": f"bad address {n}",
        "pattern": f"[ipv4-addr:value = '10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}']",
        "pattern_type": "stix",
        "valid_from": "2026-02-01T10:00:00Z",
        **extra,
    }


def write_bundle(path: Path, objects: list[dict[str, Any]], **extra: Any) -> Path:
    path.write_text(
        json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects, **extra})
    )
    return path


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_bundles_import_without_loss_and_read_back_equal(ws: Workspace, path: Path) -> None:
    objects = json.loads(path.read_text())["objects"]
    summary = ingest(ws.context, objects, Provenance("import", path.name))
    assert summary.rejected == []
    assert summary.new + summary.duplicates == len(objects)
    for obj in objects:
        version = obj.get("modified") or obj.get("created") or ""
        stored = ws.store.get(obj["id"], version)
        assert stored is not None and stored.obj == obj


def test_importing_the_same_file_twice_adds_nothing(cli, home: Path) -> None:
    path = EXAMPLES[0]
    first = cli("import", str(path), "--json")
    assert first.code == 0 and first.json()["new"] > 0
    second = cli("import", str(path), "--json")
    assert second.code == 0
    data = second.json()
    assert (data["new"], data["updated"], data["duplicates"]) == (0, 0, first.json()["new"])


def test_summary_counts_new_updated_duplicates_and_rejected(cli, tmp_path: Path) -> None:
    cli("import", str(write_bundle(tmp_path / "a.json", [indicator(1), indicator(2)])))
    newer = indicator(1, modified="2026-02-02T10:00:00.000Z", name="renamed")
    broken = indicator(3, pattern="[ipv4-addr:value = ")
    result = cli(
        "import",
        str(write_bundle(tmp_path / "b.json", [newer, indicator(2), indicator(4), broken])),
        "--json",
    )
    data = result.json()
    assert result.code == 0
    assert (data["new"], data["updated"], data["duplicates"]) == (1, 1, 1)
    assert data["rejected"][0]["object"] == broken["id"]
    assert data["rejected"][0]["reason"].startswith("pattern:")


def test_human_output_lists_rejections_with_reasons(cli, tmp_path: Path) -> None:
    result = cli(
        "import", str(write_bundle(tmp_path / "b.json", [indicator(5), indicator(6, name="a\x1bb")]))
    )
    assert result.code == 0
    assert "! b.json (stix-2.1): 1 new, 0 updated, 0 duplicate(s), 1 rejected" in result.err
    assert "✓" not in result.out + result.err, "an import with rejections is not a success mark"
    assert "name contains the control character U+001B" in " ".join(result.err.split())


def test_markings_are_kept_as_received_and_the_tlp_stored(ws: Workspace) -> None:
    amber1 = indicator(10, object_marking_refs=[AMBER_1_0])
    red_and_green = indicator(
        11, object_marking_refs=[TLP2_MARKING_IDS[TLP.GREEN], TLP2_MARKING_IDS[TLP.RED]]
    )
    unmarked = indicator(12)
    summary = ingest(
        ws.context, [amber1, red_and_green, unmarked], Provenance("import", "t"), default_tlp=TLP.GREEN
    )
    assert summary.new == 3
    assert ws.store.get(amber1["id"]).obj["object_marking_refs"] == [AMBER_1_0]  # type: ignore[union-attr]
    assert ws.store.get(amber1["id"]).tlp == TLP.AMBER  # type: ignore[union-attr]
    assert ws.store.get(red_and_green["id"]).tlp == TLP.RED  # type: ignore[union-attr]
    assert ws.store.get(unmarked["id"]).tlp == TLP.GREEN  # type: ignore[union-attr]
    assert any("contradicting TLP markings" in n for n in summary.notes)


def test_no_marking_means_the_community_default(ws: Workspace) -> None:
    ingest(ws.context, [indicator(13)], Provenance("import", "t"))
    assert ws.store.get(indicator(13)["id"]).tlp == ws.community.default_tlp  # type: ignore[union-attr]


def test_a_newer_version_never_lowers_the_stored_tlp(ws: Workspace) -> None:
    red = indicator(14, object_marking_refs=[TLP2_MARKING_IDS[TLP.RED]])
    ingest(ws.context, [red], Provenance("taxii", "peer", "coll"))
    green = indicator(
        14, modified="2026-03-01T00:00:00.000Z", object_marking_refs=[TLP2_MARKING_IDS[TLP.GREEN]]
    )
    summary = ingest(ws.context, [green], Provenance("taxii", "peer", "coll"))
    assert summary.updated == 1
    latest = ws.store.get(red["id"])
    assert latest is not None and latest.modified == green["modified"]
    assert latest.tlp == TLP.RED
    assert "kept TLP:RED" in summary.notes[0]


def test_provenance_names_the_channel_and_the_markings(ws: Workspace) -> None:
    obj = indicator(15, object_marking_refs=[TLP2_MARKING_IDS[TLP.GREEN]])
    ingest(ws.context, [obj], Provenance("taxii", "csirtamericas", "coll-1"))
    prov = ws.store.provenance_of(obj["id"], obj["modified"])
    assert prov == Provenance("taxii", "csirtamericas", "coll-1", (TLP2_MARKING_IDS[TLP.GREEN],))


def test_stix20_bundles_are_upgraded_with_a_note(cli, tmp_path: Path) -> None:
    old = {k: v for k, v in indicator(16).items() if k not in ("spec_version", "pattern_type")}
    old["labels"] = ["malicious-activity"]
    result = cli("import", str(write_bundle(tmp_path / "old.json", [old], spec_version="2.0")), "--json")
    data = result.json()
    assert result.code == 0 and data["kind"] == "stix-2.0" and data["new"] == 1
    assert "upgraded from STIX 2.0 to 2.1" in data["notes"][0]


def test_standard_input_is_read(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    data = json.dumps(
        {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [indicator(17)]}
    ).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    result = cli("import", "-", "--source", "partner-mail", "--json")
    assert result.code == 0 and result.json()["source"] == "partner-mail"


def test_unknown_tlp_option_is_a_clear_error(cli) -> None:
    result = cli("import", str(EXAMPLES[0]), "--tlp", "purple")
    assert result.code == 1 and "'purple' is not a TLP label" in result.err


def _consistent(db: Path) -> tuple[int, int]:
    """Integrity, one latest version per id, a provenance row per version: the counts."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        objects = conn.execute("SELECT COUNT(*) FROM objects").fetchone()[0]
        provenance = conn.execute("SELECT COUNT(*) FROM provenance").fetchone()[0]
        doubled = conn.execute(
            "SELECT COUNT(*) FROM (SELECT id FROM objects WHERE latest = 1 GROUP BY id HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        assert doubled == 0 and objects == provenance
        return objects, provenance
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_kill_9_mid_import_leaves_the_store_consistent_and_a_rerun_completes(
    home: Path, tmp_path: Path
) -> None:
    count = 100_000
    path = write_bundle(tmp_path / "big.json", [indicator(n) for n in range(count)])
    env = {**os.environ, "CIRT_HOME": str(home)}
    db = home / "cirt.db"
    before, _ = _consistent(db)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cirt", "import", str(path), "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wal = home / "cirt.db-wal"
    deadline = time.monotonic() + 120
    # Kill once the import is writing its transaction (the WAL grows past a few megabytes).
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > 4_000_000:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the import finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # All or nothing: killed while writing, nothing of it is there (had the kill landed after
    # the commit, everything would be).
    after, _ = _consistent(db)
    assert after in (before, before + count)
    rerun = subprocess.run(
        [sys.executable, "-m", "cirt", "import", str(path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["new"] + summary["duplicates"] == count
    assert summary["new"] == (count if after == before else 0)
    assert _consistent(db)[0] == before + count
