"""``cirt bulletin send`` survives a crash: a per-contact outbox, a stable Message-ID, and a re-run
that sends only what is missing.

The SMTP server is aiosmtpd on 127.0.0.1; the sender is the real ``cirt`` command in its own
process, killed with SIGKILL while the server holds the second contact's message unanswered.
"""

from __future__ import annotations

import asyncio
import email
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from cirt.workspace import Workspace
from tests.test_bulletin_delivery import CONTACT_WITH_KEY, Keys, free_port, keys  # noqa: F401

OTHER_CONTACT = "supervision@cbb.bz.example"


@dataclass
class StallingInbox:
    """Accepts messages; while ``stall`` is set, holds the next one unanswered (no 250)."""

    accepted: list[tuple[str, str]] = field(default_factory=list)  # (recipient, Message-ID)
    held: list[tuple[str, str]] = field(default_factory=list)
    stall_after: int | None = None
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=SMTP)
        seen = (envelope.rcpt_tos[0], str(message["Message-ID"]))
        if self.stall_after is not None and len(self.accepted) >= self.stall_after:
            self.held.append(seen)
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 try again later"
        self.accepted.append(seen)
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[StallingInbox, int]]:
    handler = StallingInbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    handler.release.set()
    controller.stop()


@pytest.fixture
def cbb_home(
    home: Path,
    keys: Keys,  # noqa: F811
    inbox: tuple[StallingInbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """cbb with plain mail allowed: both contacts get the AMBER incident (the keyed one
    encrypted), so one run sends two messages."""
    _, port = inbox
    sectors = home / "sectors.yaml"
    sectors.write_text(
        sectors.read_text()
        .replace(
            f"        email: {CONTACT_WITH_KEY}\n",
            f"        email: {CONTACT_WITH_KEY}\n        pgp_fingerprint: {keys.contact}\n",
            1,
        )
        .replace("  - id: cbb\n", "  - id: cbb\n    plain_mail: true\n", 1)
    )
    config = home / "config.toml"
    config.write_text(
        config.read_text()
        .replace("port = 25", f"port = {port}")
        .replace('sender = "cirt@localhost"', 'sender = "bulletins@cirt.bz.example"')
    )
    monkeypatch.setenv("CIRT_GPG_HOME", str(keys.cirt_home))
    monkeypatch.setenv("CIRT_GPG_KEY", keys.cirt)
    with Workspace.open(home) as ws:
        phishing = ws.incidents.open(
            title="Phishing campaign imitating online banking",
            category="phishing",
            severity="high",
            organisations=["cbb"],
            tlp="amber",
        )
        ws.indicators.add(
            form="domain", value="centralbank-online-login.example", incident=phishing.reference
        )
    return home


def _send(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cirt", "--home", str(home), "bulletin", "send", "--for", "cbb", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )


def _outbox(home: Path) -> dict[str, tuple[str, str]]:
    with Workspace.open(home) as ws:
        return {row.contact: (row.state, row.message_id) for row in ws.store.outbox("cbb")}


def test_kill_9_during_send_then_a_rerun_sends_nothing_twice(
    cbb_home: Path, inbox: tuple[StallingInbox, int]
) -> None:
    server, _ = inbox
    server.stall_after = 1
    run = _send(cbb_home)
    try:
        deadline = time.monotonic() + 120
        while not server.held:
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the second message never reached the server"
            time.sleep(0.05)
        run.send_signal(signal.SIGKILL)
        run.wait(30)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    [(first, first_id)] = server.accepted
    [(second, held_id)] = server.held
    assert _outbox(cbb_home) == {first: ("sent", first_id), second: ("pending", held_id)}
    with Workspace.open(cbb_home) as ws:
        logged = len(ws.audit.entries())
    assert logged == 2  # each release written before its message went out

    server.stall_after = None
    server.release.set()
    rerun = _send(cbb_home)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert server.accepted == [(first, first_id), (second, held_id)]  # the same Message-ID
    outcomes = {o["contact"]: o for o in json.loads(out)}
    assert outcomes[first]["status"] == "already-sent"
    assert outcomes[second]["status"] == "sent"
    assert "queued by an earlier run" in outcomes[second]["detail"]
    assert _outbox(cbb_home) == {first: ("sent", first_id), second: ("sent", held_id)}
    with Workspace.open(cbb_home) as ws:
        assert len(ws.audit.entries()) == logged  # nothing released or logged again

    third = _send(cbb_home)
    out, err = third.communicate(timeout=120)
    assert third.returncode == 0, err
    assert len(server.accepted) == 2
    assert {o["status"] for o in json.loads(out)} == {"already-sent"}


def test_a_refused_message_is_failed_named_and_sent_on_the_next_run(
    cbb_home: Path, inbox: tuple[StallingInbox, int]
) -> None:
    server, _ = inbox
    server.stall_after = 1
    server.release.set()  # the second message is answered 451 at once
    first = _send(cbb_home)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 1
    [(served, _)] = server.accepted
    [(refused, refused_id)] = server.held
    assert f"bulletin not sent to {refused}" in err and "451" in err
    assert _outbox(cbb_home)[refused] == ("failed", refused_id)
    server.stall_after = None
    again = _send(cbb_home)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert [r for r, _ in server.accepted] == [served, refused]
    assert server.accepted[1][1] == refused_id
