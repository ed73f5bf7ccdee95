"""Bad days for the disk: corrupted pages, a read-only filesystem, a full disk.

``cirt check`` runs SQLite's integrity check, so a file with damaged pages is named, not passed.
On a read-only filesystem or a full disk, commands that only read still work; a command that
writes says which of the two it is.  The filesystems are real: a small tmpfs mounted in a private
mount namespace (``unshare``), remounted read-only or filled with a file; where no namespace can
be made the test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cirt.tlp import TLP
from cirt.workspace import Workspace

CIRT = [sys.executable, "-m", "cirt"]


def _workspace_with_history(ws: Workspace) -> str:
    ref = ws.incidents.open(
        title="Phishing for card numbers",
        category="phishing",
        severity="high",
        organisations=["cbb"],
        tlp="green",
    ).reference
    for n in range(120):
        ws.indicators.add(incident=ref, form="domain", value=f"skim-{n}.example", tlp=TLP.GREEN)
    ws.audit.record(
        recipient="org:cbb",
        channel="email",
        tlp=1,
        objects=[(ws.incidents.get(ref).id, ws.incidents.get(ref).modified, 1)],
    )
    return ref


# --- corrupted pages --------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_check_names_a_database_with_corrupted_pages(home: Path, cli: Any, engine: str) -> None:
    with Workspace.open(home) as ws:
        _workspace_with_history(ws)
    healthy = cli("check", "--json")
    assert healthy.code == 0, healthy.err
    assert "integrity check passed" in json.dumps(healthy.json())
    database = home / "cirt.db"
    assert not (home / "cirt.db-wal").exists()  # all in the main file after the last close
    data = bytearray(database.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    pages = len(data) // page
    for n in range(pages * 2 // 3, pages * 2 // 3 + 3):  # three pages of the objects' b-trees
        data[n * page + 8 : (n + 1) * page] = bytes([0xA5]) * (page - 8)
    database.write_bytes(bytes(data))
    result = cli("check", "--json")
    assert result.code == 1
    bad = [f["message"] for f in result.json() if f["area"] == "database" and not f["ok"]]
    assert bad and "integrity check failed" in bad[0], result.out


# --- a read-only filesystem and a full disk ---------------------------------------------------


def _private_mounts() -> str | None:
    """Why a tmpfs cannot be mounted in a private namespace here, or None when it can."""
    if shutil.which("unshare") is None:
        return "no unshare(1) on this machine"
    probe = subprocess.run(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            "mount -t tmpfs -o size=64k tmpfs /mnt",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if probe.returncode == 0 else f"cannot mount a tmpfs: {probe.stderr.strip()}"


def _run_on_tmpfs(
    home: Path, tmp_path: Path, fault: str, commands: dict[str, list[str]]
) -> dict[str, tuple[int, str, str]]:
    """Copy the workspace to a 4 MiB tmpfs, make it read-only or full, run each command there."""
    reason = _private_mounts()
    if reason is not None:
        pytest.skip(reason)
    mount, out = tmp_path / "mnt", tmp_path / "out"
    mount.mkdir()
    out.mkdir()
    copy = mount / "ws"
    break_it = {
        "read-only": f"mount -o remount,ro {mount}",
        "full": f"dd if=/dev/zero of={mount}/filler bs=4k 2>/dev/null; true",
    }[fault]
    lines = [
        "set -u",
        f"mount -t tmpfs -o size=4m tmpfs {mount}",
        f"cp -a {home} {copy}",
        break_it,
        f"export CIRT_HOME={copy}",
    ]
    for name, args in commands.items():
        command = shlex.join([*CIRT, *args])
        lines.append(f"{command} >{out}/{name}.out 2>{out}/{name}.err; echo $? >{out}/{name}.rc")
    script = "\n".join(lines)
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "CIRT_ANALYST": "tester"},
    )
    assert done.returncode == 0, done.stderr
    return {
        name: (
            int((out / f"{name}.rc").read_text()),
            (out / f"{name}.out").read_text(),
            (out / f"{name}.err").read_text(),
        )
        for name in commands
    }


def _reads_and_one_write(ref: str) -> dict[str, list[str]]:
    return {
        "list": ["incident", "list", "--json"],
        "show": ["incident", "show", ref, "--json"],
        "verify": ["audit", "verify", "--json"],
        "check": ["check", "--json"],
        "write": ["incident", "update", ref, "--severity", "critical"],
    }


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("fault", "condition"), [("read-only", "the filesystem is read-only"), ("full", "the disk is full")]
)
def test_reading_commands_work_and_writing_ones_say_why_not(
    home: Path, tmp_path: Path, engine: str, fault: str, condition: str
) -> None:
    with Workspace.open(home) as ws:
        ref = _workspace_with_history(ws)
    results = _run_on_tmpfs(home, tmp_path, fault, _reads_and_one_write(ref))
    for name in ("list", "show", "verify"):
        code, out, err = results[name]
        assert code == 0, (name, err)
        assert "disk I/O error" not in err
    assert [row["reference"] for row in json.loads(results["list"][1])] == [ref]
    assert json.loads(results["show"][1])["reference"] == ref
    code, out, err = results["check"]
    assert code == 1
    bad = [f["message"] for f in json.loads(out) if not f["ok"]]
    assert len(bad) == 1 and bad[0].endswith(
        f"cirt.db: can only be read: {condition} (commands that write will fail)"
    ), bad
    code, out, err = results["write"]
    assert code == 1
    assert err.strip().startswith("cirt: the database") and condition in err, err
    assert "Traceback" not in err


def _killed_writer(home: Path, ref: str) -> None:
    """An update whose process dies before closing: the commit is only in the write-ahead log."""
    writer = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import os\n"
                "from cirt.workspace import Workspace\n"
                f"ws = Workspace.open({str(home)!r})\n"
                f"ws.incidents.update({ref!r}, severity='critical')\n"
                "os._exit(0)\n"
            ),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert writer.returncode == 0, writer.stderr
    assert (home / "cirt.db-wal").stat().st_size > 0
    (home / "cirt.db-shm").unlink()  # as after a reboot: the index is rebuilt from the log


@pytest.mark.sqlite_only
def test_a_full_disk_still_shows_the_last_commits_of_a_killed_writer(
    home: Path, tmp_path: Path, engine: str
) -> None:
    with Workspace.open(home) as ws:
        ref = _workspace_with_history(ws)
    _killed_writer(home, ref)
    results = _run_on_tmpfs(home, tmp_path, "full", {"show": ["incident", "show", ref, "--json"]})
    code, out, err = results["show"]
    assert code == 0, err
    assert json.loads(out)["severity"] == "critical"


@pytest.mark.sqlite_only
def test_a_read_only_copy_with_unmerged_commits_is_refused_not_shown_stale(
    home: Path, tmp_path: Path, engine: str
) -> None:
    """SQLite cannot read its write-ahead log on a read-only filesystem without its index; the
    main file alone would show the incident as it was before the last commit."""
    with Workspace.open(home) as ws:
        ref = _workspace_with_history(ws)
    _killed_writer(home, ref)
    results = _run_on_tmpfs(home, tmp_path, "read-only", {"show": ["incident", "show", ref, "--json"]})
    code, _, err = results["show"]
    assert code == 1
    assert (
        "cannot be read here (the filesystem is read-only) while its write-ahead log holds"
        " commits not yet in the main file" in err
    ), err


def _as_file_owner_without_privileges() -> list[str]:
    """The prefix that runs a command subject to file permissions: none for an ordinary user;
    for root, a new user namespace, where root keeps ownership but loses the privilege of
    writing what its permissions forbid."""
    if os.geteuid() != 0:
        return []
    if (
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "--user", "true"], capture_output=True, check=False).returncode != 0
    ):
        pytest.skip("running as root without user namespaces: permissions cannot be tested")
    return ["unshare", "--user"]


@pytest.mark.sqlite_only
def test_a_read_only_database_file_reads_and_refuses_writes(home: Path, engine: str) -> None:
    with Workspace.open(home) as ws:
        ref = _workspace_with_history(ws)
    (home / "cirt.db").chmod(0o444)
    prefix = _as_file_owner_without_privileges()

    def cirt(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*prefix, *CIRT, "--home", str(home), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={**os.environ, "CIRT_ANALYST": "tester"},
        )

    try:
        listed = cirt("incident", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [row["reference"] for row in json.loads(listed.stdout)] == [ref]
        assert cirt("audit", "verify", "--json").returncode == 0
        write = cirt("incident", "update", ref, "--severity", "critical")
        assert write.returncode == 1 and "the file is read-only" in write.stderr, write.stderr
    finally:
        (home / "cirt.db").chmod(0o644)
