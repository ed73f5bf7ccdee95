"""The refusal log is part of the audit trail: every refusal of inbound data is a link of a hash
chain, ``cirt audit refusals`` shows what each source tried, and ``cirt audit verify`` names the
first edited, removed or reordered refusal.

Tampering is done as an insider would, straight on the SQLite file (those tests run on SQLite
only); the rest runs on both engines.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from cirt.chain import GENESIS, Head
from cirt.openpgp import OpenPGP, gpg_settings
from cirt.refusal_log import Refusal, canonical_refusal, chain, verify_refusals
from cirt.store import Provenance
from cirt.workspace import Workspace
from tests.test_audit_log import gnupg_home, remove_gnupg_home

STAMP = "2026-03-10T12:00:00.000Z"
NATIONAL = "identity--e33b703c-a631-5672-a1bc-d5c26b3e3afa"


def claims_the_cirt(n: int) -> dict[str, Any]:
    """An indicator that asserts the national CIRT as its creator: refused from any source."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{n:08d}-1f0b-4f3e-9c1a-0a4b2c3d4e5f",
        "created": STAMP,
        "modified": STAMP,
        "name": f"claim {n}",
        "pattern": "[ipv4-addr:value = '192.0.2.1']",
        "pattern_type": "stix",
        "valid_from": STAMP,
        "created_by_ref": NATIONAL,
    }


def refuse_four(cli: Any, tmp_path: Path) -> None:
    """Two whole documents (duplicate keys) and two objects from CSIRTAmericas, refused."""
    for n in (1, 2):
        bad = tmp_path / f"dup{n}.json"
        bad.write_text('{"type": "bundle", "objects": [], "objects": []}')
        assert cli("import", str(bad)).code == 1
    bundle = tmp_path / "claims.json"
    bundle.write_text(
        json.dumps(
            {
                "type": "bundle",
                "id": "bundle--6b9c2f1e-4a3d-4e5f-8a7b-0c1d2e3f4a5b",
                "objects": [claims_the_cirt(3), claims_the_cirt(4)],
            }
        )
    )
    cli("import", str(bundle), "--source", "csirtamericas")


def tamper(home: Path, *statements: str) -> None:
    with sqlite3.connect(home / "cirt.db") as db:
        for statement in statements:
            db.execute(statement)


# --- what is written and shown ------------------------------------------------------------------


def test_each_refusal_is_a_link_of_the_chain(cli: Any, home: Path, tmp_path: Path) -> None:
    refuse_four(cli, tmp_path)
    with Workspace.open(home) as ws:
        entries = ws.store.ingest_log()
        report = verify_refusals(ws.store.iter_refusal_chain())
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(entries))
    assert report.ok and report.entries == 4 and report.head.hash == entries[-1].hash


def test_a_refused_object_is_logged_with_its_source_collection_id_and_version(home: Path) -> None:
    from cirt.ingest import ingest

    with Workspace.open(home) as ws:
        summary = ingest(ws.context, [claims_the_cirt(5)], Provenance("taxii", "csirtamericas", "c1"))
        (entry,) = ws.store.ingest_log()
    assert summary.stored == 0
    assert (
        entry.source_kind,
        entry.source,
        entry.collection,
        entry.object_id,
        entry.version,
        entry.outcome,
    ) == ("taxii", "csirtamericas", "c1", claims_the_cirt(5)["id"], STAMP, "rejected")
    assert NATIONAL in entry.reason


def test_refusals_lists_what_each_source_tried(cli: Any, tmp_path: Path) -> None:
    refuse_four(cli, tmp_path)
    every = cli("audit", "refusals", "--json").json()
    assert [e["source"] for e in every] == ["dup1.json", "dup2.json", "csirtamericas", "csirtamericas"]
    assert every[0]["object_id"] is None and "twice" in every[0]["reason"]
    partner = cli("audit", "refusals", "--source", "csirtamericas", "--json").json()
    assert [(e["object_id"], e["version"], e["outcome"]) for e in partner] == [
        (claims_the_cirt(n)["id"], STAMP, "rejected") for n in (3, 4)
    ]
    shown = cli("audit", "refusals", "--source", "csirtamericas")
    assert shown.code == 0 and "Refusal log" in shown.out and "rejected" in shown.out
    assert "no refusal recorded for that source" in cli("audit", "refusals", "--source", "bel").out


def test_the_table_reads_at_80_columns(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_four(cli, tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    out = cli("audit", "refusals").out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "(the whole document)" in out and "csirtamericas" in out


def test_verify_reports_both_chains(cli: Any, tmp_path: Path) -> None:
    refuse_four(cli, tmp_path)
    result = cli("audit", "verify", "--json")
    assert result.code == 0
    assert result.json()["refusals"]["ok"] is True
    assert result.json()["refusals"]["entries"] == 4
    assert "refusal log intact: 4 entries" in cli("audit", "verify").out


def test_an_entry_hashes_every_field() -> None:
    base = Refusal("taxii", "csirtamericas", "c1", "indicator--x", STAMP, "rejected", "why")
    payload = canonical_refusal(1, STAMP, base)
    for field in ("source_kind", "source", "collection", "object_id", "version", "outcome", "reason"):
        changed = Refusal(**{**base.__dict__, field: "other"})
        assert canonical_refusal(1, STAMP, changed) != payload, field
    assert canonical_refusal(2, STAMP, base) != payload
    assert canonical_refusal(1, "2026-03-10T12:00:01.000Z", base) != payload


# --- verify: tampering with the SQLite file -----------------------------------------------------


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("statements", "first_bad", "says"),
    [
        (["UPDATE ingest_log SET reason = 'nothing to see' WHERE link = 3"], 3, "was edited"),
        (["UPDATE ingest_log SET source = 'bel' WHERE link = 2"], 2, "was edited"),
        (["DELETE FROM ingest_log WHERE link = 2"], 3, "should be"),
        (
            ["DELETE FROM ingest_log WHERE link = 2", "UPDATE ingest_log SET link = link - 1 WHERE link > 2"],
            2,
            "does not follow",
        ),
        (
            [
                "UPDATE ingest_log SET link = -1 WHERE link = 2",
                "UPDATE ingest_log SET link = 2 WHERE link = 4",
                "UPDATE ingest_log SET link = 4 WHERE link = -1",
            ],
            2,
            "does not follow",
        ),
        (["UPDATE ingest_log SET link = NULL WHERE link = 1"], 2, "should be"),
    ],
    ids=["edited reason", "edited source", "deleted", "deleted and renumbered", "reordered", "unchained"],
)
def test_tampering_is_named_at_the_first_bad_refusal(
    cli: Any, home: Path, tmp_path: Path, statements: list[str], first_bad: int, says: str
) -> None:
    refuse_four(cli, tmp_path)
    tamper(home, *statements)
    result = cli("audit", "verify", "--json")
    assert result.code == 1
    broken = result.json()["refusals"]["first_bad"]
    assert broken["seq"] == first_bad and says in broken["reason"]
    assert result.json()["ok"] is True  # the disclosure log is untouched
    plain = cli("audit", "verify")
    assert plain.code == 1
    assert f"refusal log broken: entry #{first_bad}" in plain.err


@pytest.mark.sqlite_only
def test_rows_from_before_the_chain_are_listed_not_verified(cli: Any, home: Path, tmp_path: Path) -> None:
    """An ingest log written before m0009 has no links: it is shown, and the chain starts after."""
    tamper(
        home,
        "INSERT INTO ingest_log (recorded, source_kind, source, outcome, reason)"
        " VALUES ('2026-03-01T00:00:00.000000Z', 'import', 'old.json', 'refused', 'old')",
    )
    refuse_four(cli, tmp_path)
    listed = cli("audit", "refusals", "--json").json()
    assert [e["seq"] for e in listed] == [0, 1, 2, 3, 4]
    assert cli("audit", "verify").code == 0


# --- checkpoints vouch for the refusal log's head too (real GnuPG) -----------------------------


@pytest.fixture(scope="module")
def keyring() -> Iterator[tuple[Path, dict[str, str]]]:
    home, fingerprints = gnupg_home("cirt")
    yield home, fingerprints
    remove_gnupg_home(home)


@pytest.fixture
def cirt_key(keyring: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> str:
    home, fingerprints = keyring
    monkeypatch.setenv("CIRT_GPG_HOME", str(home))
    monkeypatch.setenv("CIRT_GPG_KEY", fingerprints["cirt"])
    return fingerprints["cirt"]


def test_a_checkpoint_signs_the_heads_of_both_chains(
    cli: Any, home: Path, tmp_path: Path, cirt_key: str
) -> None:
    refuse_four(cli, tmp_path)
    with Workspace.open(home) as ws:
        head = ws.store.refusal_head()
    result = cli("audit", "checkpoint", "-o", str(tmp_path / "head.asc"), "--json")
    assert result.code == 0, result.err
    assert result.json()["refusal_head"] == {"seq": 4, "hash": head.hash, "when": head.when}
    assert result.json()["head"]["seq"] == 0  # nothing released yet
    text = (tmp_path / "head.asc").read_text()
    assert text.startswith("-----BEGIN PGP SIGNED MESSAGE-----")
    assert f'"refusals":{{"entry_time":"{head.when}","hash":"{head.hash}","seq":4}}' in text
    assert "refusal entry #4" in cli("audit", "checkpoint", "-o", str(tmp_path / "b.asc")).out


@pytest.mark.sqlite_only
def test_a_cut_off_refusal_log_passes_alone_but_fails_against_a_checkpoint(
    cli: Any, home: Path, tmp_path: Path, cirt_key: str
) -> None:
    refuse_four(cli, tmp_path)
    assert cli("audit", "checkpoint", "-o", str(tmp_path / "head.asc")).code == 0
    tamper(home, "DELETE FROM ingest_log WHERE link >= 3")
    assert cli("audit", "verify").code == 0, "a chain alone cannot show its end was cut off"
    result = cli("audit", "verify", "--checkpoint", str(tmp_path / "head.asc"), "--json")
    assert result.code == 1
    broken = result.json()["refusals"]["first_bad"]
    assert broken["seq"] == 3 and "cut off" in broken["reason"]
    assert result.json()["ok"] is True  # the disclosure log still reaches its head
    plain = cli("audit", "verify", "--checkpoint", str(tmp_path / "head.asc"))
    assert plain.code == 1
    assert "refusal log broken: entry #3: missing" in plain.err


@pytest.mark.sqlite_only
def test_a_rewritten_refusal_chain_is_caught_by_the_checkpoint(
    cli: Any, home: Path, tmp_path: Path, cirt_key: str
) -> None:
    """An insider who edits refusal 2 and recomputes every later hash fools the chain, not a
    checkpoint."""
    refuse_four(cli, tmp_path)
    assert cli("audit", "checkpoint", "-o", str(tmp_path / "head.asc")).code == 0
    with Workspace.open(home) as ws:
        entries = list(ws.store.iter_refusal_chain())
    head = Head(1, entries[0].hash, entries[0].when)
    with sqlite3.connect(home / "cirt.db") as db:
        for e in entries[1:]:
            reason = "nothing to see" if e.seq == 2 else e.reason
            (f,) = chain(
                head,
                e.when,
                [Refusal(e.source_kind, e.source, e.collection, e.object_id, e.version, e.outcome, reason)],
            )
            db.execute(
                "UPDATE ingest_log SET reason = ?, prev_hash = ?, hash = ? WHERE link = ?",
                (f.reason, f.prev_hash, f.hash, f.seq),
            )
            head = Head(f.seq, f.hash, f.when)
    assert cli("audit", "verify").code == 0
    result = cli("audit", "verify", "--checkpoint", str(tmp_path / "head.asc"), "--json")
    assert result.code == 1
    broken = result.json()["refusals"]["first_bad"]
    assert broken["seq"] == 4 and "the log was rewritten" in broken["reason"]


@pytest.mark.sqlite_only
def test_a_broken_refusal_log_is_not_checkpointed(
    cli: Any, home: Path, tmp_path: Path, cirt_key: str
) -> None:
    refuse_four(cli, tmp_path)
    tamper(home, "UPDATE ingest_log SET reason = 'edited' WHERE link = 2")
    result = cli("audit", "checkpoint", "-o", str(tmp_path / "head.asc"))
    assert result.code == 1 and "refusal log broken: entry #2" in result.err
    assert not (tmp_path / "head.asc").exists()


def test_a_checkpoint_of_the_first_format_still_verifies_the_disclosure_log(
    cli: Any, home: Path, tmp_path: Path, cirt_key: str
) -> None:
    """Checkpoints signed before they covered the refusal log vouch for the disclosure log."""
    refuse_four(cli, tmp_path)
    with Workspace.open(home) as ws:
        head = ws.audit.head()
        old = {
            "format": "cirt-disclosure-checkpoint/1",
            "identity": NATIONAL,
            "seq": head.seq,
            "hash": head.hash,
            "entry_time": head.when,
            "signed_at": STAMP,
        }
        settings = gpg_settings(ws.config.gpg, ws.secret("gpg_passphrase"))
    signed = OpenPGP(settings).clearsign(json.dumps(old, sort_keys=True) + "\n")
    (tmp_path / "old.asc").write_text(signed)
    result = cli("audit", "verify", "--checkpoint", str(tmp_path / "old.asc"), "--json")
    assert result.code == 0, result.err
    assert result.json()["checkpoint"]["seq"] == 0
    assert result.json()["refusals"]["checkpoint"] is None
    assert result.json()["refusals"]["entries"] == 4
