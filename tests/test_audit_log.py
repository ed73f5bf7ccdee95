"""The disclosure log: entries chained by hashes, tampering detected, signed checkpoints.

Tampering is done the way an insider would: straight on the SQLite file, behind cirt's back
(so those tests run on SQLite only; everything else runs on both engines).
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cirt.chain import (
    EMPTY,
    GENESIS,
    Entry,
    canonical_entry,
    entry_hash,
    make_entry,
    verify_chain,
)
from cirt.errors import InvalidValue
from cirt.openpgp import SignatureInvalid
from cirt.workspace import Workspace

INDICATOR = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
INCIDENT = "incident--0c7b5b88-8ff7-4a4b-aa9c-feed5c1ef3a5"
V1 = "2026-03-10T13:00:00.000Z"


def gnupg_home(*names: str) -> tuple[Path, dict[str, str]]:
    """A throwaway GnuPG home with one unprotected ed25519/cv25519 key per name."""
    home = Path(tempfile.mkdtemp(prefix="gpg", dir="/tmp"))
    home.chmod(0o700)
    fingerprints = {}
    for name in names:
        uid = f"{name} <{name}@cirt-test.example>"
        subprocess.run(
            [
                "gpg",
                "--batch",
                "--homedir",
                str(home),
                "--passphrase",
                "",
                "--quick-gen-key",
                uid,
                "future-default",
                "default",
                "never",
            ],
            check=True,
            capture_output=True,
        )
        listing = subprocess.run(
            ["gpg", "--batch", "--homedir", str(home), "--with-colons", "--list-keys", uid],
            check=True,
            capture_output=True,
            text=True,
        )
        fingerprints[name] = next(
            line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:")
        )
    return home, fingerprints


def remove_gnupg_home(home: Path) -> None:
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def keyring() -> Iterator[tuple[Path, dict[str, str]]]:
    home, fingerprints = gnupg_home("cirt", "intruder")
    yield home, fingerprints
    remove_gnupg_home(home)


@pytest.fixture
def cirt_key(keyring: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> str:
    home, fingerprints = keyring
    monkeypatch.setenv("CIRT_GPG_HOME", str(home))
    monkeypatch.setenv("CIRT_GPG_KEY", fingerprints["cirt"])
    return fingerprints["cirt"]


def release(ws: Workspace, n: int) -> list[Entry]:
    """``n`` releases to alternating recipients, as the gate would record them."""
    recipients = ["org:cbb", "contact:soc@cbb.bz.example", "org:bel", "partner:csirtamericas", "public"]
    return [
        ws.audit.record(
            recipient=recipients[i % len(recipients)],
            channel="email",
            objects=[(INCIDENT, V1, 2), (INDICATOR, f"2026-03-10T13:00:0{i}.000Z", 2)],
            tlp=2,
        )
        for i in range(n)
    ]


def tamper(home: Path, *statements: str) -> None:
    with sqlite3.connect(home / "cirt.db") as db:
        for statement in statements:
            db.execute(statement)


# --- what an entry is -------------------------------------------------------------------------


def test_an_entry_records_when_who_to_whom_how_what_and_tlp(ws: Workspace) -> None:
    entry = ws.audit.record(
        recipient="org:cbb", channel="email", objects=[(INCIDENT, V1, 2), (INDICATOR, V1, 1)], tlp=2
    )
    assert (entry.seq, entry.analyst, entry.recipient, entry.channel, entry.tlp) == (
        1,
        "tester",
        "org:cbb",
        "email",
        2,
    )
    assert entry.when.startswith("2026-03-10T14:00:00.")
    assert entry.objects == ((INCIDENT, V1, 2), (INDICATOR, V1, 1))
    assert entry.prev_hash == GENESIS
    assert entry.hash == entry_hash(
        GENESIS, canonical_entry(1, entry.when, "tester", "org:cbb", "email", entry.objects, 2, "sent")
    )
    assert entry.delivery == "sent"
    assert ws.audit.entries() == [entry]


def test_each_entry_is_chained_to_the_one_before(ws: Workspace) -> None:
    first, second, third = release(ws, 3)
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert ws.audit.head().seq == 3 and ws.audit.head().hash == third.hash


def test_a_malformed_release_is_refused_and_nothing_is_written(ws: Workspace) -> None:
    with pytest.raises(InvalidValue, match="not a recipient"):
        ws.audit.record(recipient="cbb", channel="email", objects=[], tlp=2)
    with pytest.raises(InvalidValue, match="TLP"):
        ws.audit.record(recipient="org:cbb", channel="email", objects=[], tlp=7)
    with pytest.raises(InvalidValue, match="triple"):
        ws.audit.record(recipient="org:cbb", channel="email", objects=[("x", V1, 2)], tlp=2)
    assert ws.audit.entries() == []


def test_log_filters_by_recipient_organisation_with_its_contacts_and_by_object(ws: Workspace, cli) -> None:
    release(ws, 5)
    ws.audit.record(recipient="org:bws", channel="export", objects=[(INCIDENT, V1, 2)], tlp=2)
    to_cbb = ws.audit.entries(to="cbb")
    assert [e.recipient for e in to_cbb] == ["org:cbb", "contact:soc@cbb.bz.example"]
    assert [e.seq for e in ws.audit.entries(to="soc@cbb.bz.example")] == [2]
    assert [e.seq for e in ws.audit.entries(object_id=INDICATOR)] == [1, 2, 3, 4, 5]
    assert [e.seq for e in ws.audit.entries(to="bws", object_id=INCIDENT)] == [6]
    result = cli("audit", "log", "--to", "partner:csirtamericas", "--json")
    assert result.code == 0
    assert [(e["seq"], e["recipient"]) for e in result.json()] == [(4, "partner:csirtamericas")]
    unknown = cli("audit", "log", "--to", "nowhere")
    assert unknown.code == 1 and "neither an organisation nor a partner" in unknown.err


def test_concurrent_writers_keep_one_linear_chain(home: Path) -> None:
    def writer(k: int) -> None:
        with Workspace.open(home) as ws:
            for i in range(15):
                ws.audit.record(
                    recipient=f"org:w{k}", channel="email", objects=[(INDICATOR, f"v{i}", 1)], tlp=1
                )

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Workspace.open(home) as ws:
        report = ws.audit.verify()
        assert report.ok and report.entries == 60
        assert [e.seq for e in ws.audit.entries()] == list(range(1, 61))


# --- verify: tampering with the SQLite file ---------------------------------------------------


def test_an_untouched_log_verifies(ws: Workspace, cli) -> None:
    release(ws, 4)
    assert ws.audit.verify().ok
    result = cli("audit", "verify", "--json")
    assert result.code == 0 and result.json()["ok"] is True and result.json()["entries"] == 4


@pytest.mark.sqlite_only
def test_an_edited_entry_is_named(ws: Workspace, home: Path, cli) -> None:
    release(ws, 5)
    tamper(home, "UPDATE disclosures SET recipient = 'org:bws' WHERE seq = 3")
    report = ws.audit.verify()
    assert not report.ok and report.broken is not None
    assert report.broken.seq == 3 and "edited" in report.broken.reason
    result = cli("audit", "verify")
    assert result.code == 1
    assert result.err.count("\n") == 1 and "entry #3" in result.err and "edited" in result.err


@pytest.mark.sqlite_only
def test_an_edited_object_version_is_detected(ws: Workspace, home: Path) -> None:
    release(ws, 3)
    tamper(
        home, "UPDATE disclosures SET objects = replace(objects, '.000Z\",2]', '.000Z\",1]') WHERE seq = 2"
    )
    report = ws.audit.verify()
    assert report.broken is not None and report.broken.seq == 2


@pytest.mark.sqlite_only
def test_a_deleted_entry_is_named(ws: Workspace, home: Path, cli) -> None:
    release(ws, 5)
    tamper(home, "DELETE FROM disclosures WHERE seq = 2")
    report = ws.audit.verify()
    assert report.broken is not None and report.broken.seq == 3
    assert "where entry #2 should be" in report.broken.reason
    result = cli("audit", "verify", "--json")
    assert result.code == 1 and result.json()["first_bad"]["seq"] == 3
    assert "entry #3" in result.err


@pytest.mark.sqlite_only
def test_deleting_and_renumbering_is_still_detected(ws: Workspace, home: Path) -> None:
    release(ws, 4)
    tamper(
        home, "DELETE FROM disclosures WHERE seq = 2", "UPDATE disclosures SET seq = seq - 1 WHERE seq > 2"
    )
    report = ws.audit.verify()
    assert report.broken is not None and report.broken.seq == 2
    assert "does not follow entry #1" in report.broken.reason


@pytest.mark.sqlite_only
def test_reordered_entries_are_detected(ws: Workspace, home: Path) -> None:
    release(ws, 5)
    tamper(
        home,
        "UPDATE disclosures SET seq = -1 WHERE seq = 2",
        "UPDATE disclosures SET seq = 2 WHERE seq = 4",
        "UPDATE disclosures SET seq = 4 WHERE seq = -1",
    )
    report = ws.audit.verify()
    assert report.broken is not None and report.broken.seq == 2


@pytest.mark.sqlite_only
def test_swapped_contents_are_detected(ws: Workspace, home: Path) -> None:
    release(ws, 4)
    columns = "recorded, analyst, recipient, channel, objects, tlp, prev_hash, hash"
    tamper(
        home,
        f"CREATE TEMP TABLE two AS SELECT {columns} FROM disclosures WHERE seq = 2",
        f"CREATE TEMP TABLE three AS SELECT {columns} FROM disclosures WHERE seq = 3",
        "DELETE FROM disclosures WHERE seq IN (2, 3)",
        f"INSERT INTO disclosures (seq, {columns}) SELECT 2, {columns} FROM three",
        f"INSERT INTO disclosures (seq, {columns}) SELECT 3, {columns} FROM two",
    )
    report = ws.audit.verify()
    assert report.broken is not None and report.broken.seq == 2


@pytest.mark.sqlite_only
def test_a_truncated_log_passes_alone_but_fails_against_a_checkpoint(
    ws: Workspace, home: Path, cirt_key: str, tmp_path: Path, cli
) -> None:
    release(ws, 5)
    checkpoint = ws.audit.checkpoint(tmp_path / "head.asc")
    assert checkpoint.head.seq == 5 and checkpoint.fingerprint == cirt_key
    tamper(home, "DELETE FROM disclosures WHERE seq >= 4")
    assert ws.audit.verify().ok, "a chain alone cannot show its end was cut off"
    report = ws.audit.verify(tmp_path / "head.asc")
    assert report.broken is not None and report.broken.seq == 4
    assert "cut off" in report.broken.reason
    result = cli("audit", "verify", "--checkpoint", str(tmp_path / "head.asc"))
    assert result.code == 1 and "entry #4" in result.err and "cut off" in result.err


@pytest.mark.sqlite_only
def test_a_recomputed_chain_is_caught_by_the_checkpoint(
    ws: Workspace, home: Path, cirt_key: str, tmp_path: Path
) -> None:
    """An insider who edits entry 1 and recomputes every hash fools the chain, not a checkpoint."""
    release(ws, 3)
    ws.audit.checkpoint(tmp_path / "head.asc")
    forged = []
    head = EMPTY
    for e in ws.audit.entries():
        recipient = "org:bel" if e.seq == 1 else e.recipient
        forged.append(
            make_entry(
                head,
                when=e.when,
                analyst=e.analyst,
                recipient=recipient,
                channel=e.channel,
                objects=e.objects,
                tlp=e.tlp,
                delivery=e.delivery,
            )
        )
        head = dataclasses.replace(head, seq=forged[-1].seq, hash=forged[-1].hash)
    tamper(
        home,
        *(
            f"UPDATE disclosures SET recipient = '{f.recipient}', prev_hash = "
            f"'x{f.seq}', hash = 'y{f.seq}' WHERE seq = {f.seq}"
            for f in forged
        ),
        *(
            f"UPDATE disclosures SET prev_hash = '{f.prev_hash}', hash = '{f.hash}' WHERE seq = {f.seq}"
            for f in forged
        ),
    )
    assert ws.audit.verify().ok
    report = ws.audit.verify(tmp_path / "head.asc")
    assert report.broken is not None and report.broken.seq == 3
    assert "checkpoint" in report.broken.reason


def test_entries_after_a_checkpoint_still_verify_against_it(
    ws: Workspace, cirt_key: str, tmp_path: Path, cli
) -> None:
    release(ws, 2)
    result = cli("audit", "checkpoint", "-o", str(tmp_path / "head.asc"), "--json")
    assert result.code == 0 and result.json()["head"]["seq"] == 2
    release(ws, 3)
    result = cli("audit", "verify", "--checkpoint", str(tmp_path / "head.asc"), "--json")
    assert result.code == 0
    assert result.json()["entries"] == 5 and result.json()["checkpoint"]["seq"] == 2


def test_the_checkpoint_is_a_clearsigned_head(ws: Workspace, cirt_key: str, tmp_path: Path) -> None:
    entries = release(ws, 2)
    ws.audit.checkpoint(tmp_path / "head.asc")
    text = (tmp_path / "head.asc").read_text()
    assert text.startswith("-----BEGIN PGP SIGNED MESSAGE-----")
    assert f'"hash":"{entries[-1].hash}"' in text and '"seq":2' in text


def test_an_edited_checkpoint_is_refused(ws: Workspace, cirt_key: str, tmp_path: Path) -> None:
    release(ws, 3)
    ws.audit.checkpoint(tmp_path / "head.asc")
    path = tmp_path / "head.asc"
    path.write_text(path.read_text().replace('"seq":3', '"seq":2'))
    with pytest.raises(SignatureInvalid, match="does not verify"):
        ws.audit.verify(path)


def test_a_checkpoint_signed_by_another_key_is_refused(
    ws: Workspace,
    keyring: tuple[Path, dict[str, str]],
    cirt_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release(ws, 1)
    monkeypatch.setenv("CIRT_GPG_KEY", keyring[1]["intruder"])
    ws.audit.checkpoint(tmp_path / "forged.asc")
    monkeypatch.setenv("CIRT_GPG_KEY", cirt_key)
    with pytest.raises(SignatureInvalid, match="not by the CIRT's key"):
        ws.audit.verify(tmp_path / "forged.asc")


@pytest.mark.sqlite_only
def test_a_broken_log_is_not_checkpointed(
    ws: Workspace, home: Path, cirt_key: str, tmp_path: Path, cli
) -> None:
    release(ws, 3)
    tamper(home, "UPDATE disclosures SET tlp = 0 WHERE seq = 1")
    result = cli("audit", "checkpoint", "-o", str(tmp_path / "head.asc"))
    assert result.code == 1 and "entry #1" in result.err
    assert not (tmp_path / "head.asc").exists()


def test_the_key_comes_from_the_gpg_section_of_config_toml(
    ws: Workspace, home: Path, keyring: tuple[Path, dict[str, str]], tmp_path: Path, cli
) -> None:
    release(ws, 1)
    gpg_home, fingerprints = keyring
    with (home / "config.toml").open("a") as config:
        config.write(f'\n[gpg]\nhome = "{gpg_home}"\nkey = "{fingerprints["cirt"]}"\n')
    result = cli("audit", "checkpoint", "-o", str(tmp_path / "head.asc"), "--json")
    assert result.code == 0, result.err
    assert result.json()["fingerprint"] == fingerprints["cirt"]


def test_without_a_key_checkpoint_says_how_to_configure_one(ws: Workspace, tmp_path: Path, cli) -> None:
    result = cli("audit", "checkpoint", "-o", str(tmp_path / "head.asc"))
    assert result.code == 1 and "CIRT_GPG_KEY" in result.err


# --- the chain rules, pure --------------------------------------------------------------------

entry_fields = st.fixed_dictionaries(
    {
        "when": st.text(min_size=1, max_size=30),
        "analyst": st.text(min_size=1, max_size=10),
        "recipient": st.sampled_from(["org:cbb", "org:bel", "public", "contact:a@b.example"]),
        "channel": st.sampled_from(["email", "taxii", "export"]),
        "objects": st.lists(
            st.tuples(st.text(max_size=12), st.text(max_size=12), st.integers(0, 4)), max_size=3
        ),
        "tlp": st.integers(0, 4),
    }
)


def chain_of(fields: list[dict[str, object]]) -> list[Entry]:
    entries, head = [], EMPTY
    for f in fields:
        entry = make_entry(head, **f)  # type: ignore[arg-type]
        entries.append(entry)
        head = dataclasses.replace(head, seq=entry.seq, hash=entry.hash, when=entry.when)
    return entries


@settings(max_examples=150, deadline=None)
@given(st.lists(entry_fields, min_size=1, max_size=8), st.data())
def test_any_change_to_any_entry_is_detected_at_that_entry(
    fields: list[dict[str, object]], data: st.DataObject
) -> None:
    entries = chain_of(fields)
    assert verify_chain(entries).ok
    victim = data.draw(st.integers(0, len(entries) - 1))
    field = data.draw(st.sampled_from(["when", "analyst", "recipient", "channel", "objects", "tlp"]))
    original = entries[victim]
    changed = {
        "when": original.when + "x",
        "analyst": original.analyst + "x",
        "recipient": original.recipient + "x",
        "channel": original.channel + "x",
        "objects": (*original.objects, ("x--1", "v", 0)),
        "tlp": (original.tlp + 1) % 5,
    }[field]
    change: dict[str, Any] = {field: changed}
    entries[victim] = dataclasses.replace(original, **change)
    report = verify_chain(entries)
    assert report.broken is not None and report.broken.seq == original.seq


@settings(max_examples=100, deadline=None)
@given(st.lists(entry_fields, min_size=2, max_size=8), st.data())
def test_any_removal_or_swap_is_detected(fields: list[dict[str, object]], data: st.DataObject) -> None:
    entries = chain_of(fields)
    i = data.draw(st.integers(0, len(entries) - 2))
    if data.draw(st.booleans()):
        del entries[i]
    else:
        entries[i], entries[i + 1] = entries[i + 1], entries[i]
    report = verify_chain(entries)
    assert report.broken is not None and report.broken.seq in (i + 1, i + 2)
