"""An analyst's day, driven through the installed ``cirt`` at 80 columns without colour.

Ransomware at BWS reported by phone in the night, a DDoS on BTL's resolvers, a phishing wave
against bank customers reported by a citizen through the web form: opened with who reported
them and when, indicators of every kind, evidence, tasks done, an escalation, sharing, one
bulletin per sector checked for what each may see, closing with every duty done or waived,
and the history.  Every assertion is on what a person reads on the screen.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CITIZEN = ("Rosa Mendez", "+501 610-4477")
INTERNAL_NOTE = "caller thinks her nephew clicked the link"


class Terminal:
    """The installed cirt in a fresh workspace, as an 80-column colourless terminal shows it."""

    def __init__(self, home: Path) -> None:
        found = shutil.which("cirt", path=str(Path(sys.executable).parent)) or shutil.which("cirt")
        if found is None:
            pytest.fail("the cirt entry point is not installed (pip install -e .)")
        self.command = found
        self.env = {
            **os.environ,
            "CIRT_HOME": str(home),
            "COLUMNS": "80",
            "NO_COLOR": "1",
            "CIRT_ANALYST": "",
        }

    def __call__(self, *args: str, code: int = 0, document: bool = False) -> str:
        """The screen after ``cirt ARGS``; a ``document`` (a bulletin) is not held to 80."""
        done = subprocess.run(
            [self.command, *args], capture_output=True, text=True, env=self.env, timeout=120
        )
        assert done.returncode == code, (args, done.stdout, done.stderr)
        screen = done.stdout + done.stderr
        assert "Traceback" not in screen and "\x1b[" not in screen, args
        # Tables and messages fit; an error is one line by rule (the terminal wraps it).
        too_wide = [
            line
            for line in screen.splitlines()
            if len(line) > 80 and not document and not line.startswith("cirt: ")
        ]
        assert too_wide == [], (args, too_wide)
        return screen

    def json(self, *args: str) -> object:
        done = subprocess.run(
            [self.command, *args, "--json"], capture_output=True, text=True, env=self.env, timeout=120
        )
        assert done.returncode == 0, (args, done.stderr)
        return json.loads(done.stdout)


def numbers(term: Terminal, ref: str, kind: str) -> list[str]:
    tasks = term.json("task", "list", ref)
    assert isinstance(tasks, dict)
    return [str(t["number"]) for t in tasks["tasks"] if t["kind"] == kind and t["state"] == "open"]


def test_an_analysts_day(tmp_path: Path) -> None:
    term = Terminal(tmp_path / "ws")
    assert "changes are recorded as Maria Chan" in term("init", "--analyst", "Maria Chan")

    # 02:00: BWS's duty engineer phones about ransomware; logged when the analyst arrives.
    screen = term(
        "incident",
        "open",
        "--title",
        "Ransomware on BWS billing servers",
        "--category",
        "availability:sabotage",
        "--severity",
        "critical",
        "--sector",
        "bws",
        "--tlp",
        "green",
        "--summary",
        "Billing servers encrypted; water supply not affected",
        "--description",
        "engineer on night shift unsure whether OT is reachable",
        "--reported-at",
        "yesterday 02:00",
        "--reporter",
        "BWS duty engineer",
        "--reporter-contact",
        "+501 222-0000",
        "--reporter-kind",
        "organisation",
        "--channel",
        "phone",
    )
    ransomware = re.search(r"(BZ-\d{4}-\d{4}) opened", screen)[1]  # type: ignore[index]
    assert "playbook ransomware applied" in screen and "also matching: ot-incident" in screen
    shown = term("incident", "show", ransomware)
    assert "reported at" in shown and "02:00 CST" in shown
    assert "BWS duty engineer (organisation), +501 222-0000 [internal]" in shown
    overdue = term("overdue")
    assert ransomware in overdue and "late" in overdue  # the 1-hour duties ran from 02:00

    # Indicators of every kind; the Pattern column shows the STIX patterns.
    for option, value in (
        ("--ip", "203.0.113.66"),
        ("--domain", "bws-billing-decrypt.example"),
        ("--url", "https://pay.locker.example/bws"),
        ("--sha256", "a" * 64),
        ("--md5", "b" * 32),
        ("--email", "decrypt@locker.example"),
    ):
        term("indicator", "add", "--incident", ransomware, option, value)
    term(
        "indicator",
        "add",
        "--incident",
        ransomware,
        "--pattern",
        "[network-traffic:dst_port = 3389]",
        "--name",
        "RDP brute force",
    )
    again = term("indicator", "add", "--incident", ransomware, "--ip", "203.0.113.66")
    assert f"{ransomware} already held [ipv4-addr:value = '203.0.113.66']" in " ".join(again.split())
    listing = term("indicator", "list", "--incident", ransomware)
    assert "[ipv4-addr:value = '203.0.113.66']" in listing
    hashed = "[file:hashes.'SHA-256' = '" + "a" * 64 + "']"
    assert "".join(hashed.split()) in "".join(listing.split())  # folded, never cut

    # Evidence, with its hash shown whole.
    note = tmp_path / "ransom-note.txt"
    note.write_text("Your files are encrypted. Pay 2 BTC.")
    term("evidence", "add", ransomware, str(note), "--note", "copied from the billing server")
    sha = term.json("evidence", "list", ransomware)[0]["sha256"]  # type: ignore[index]
    assert sha in term("evidence", "list", ransomware)

    # Tasks: isolate done; a task of our own for tomorrow morning.
    tasks = term("task", "list", ransomware)
    assert "Isolate affected hosts" in tasks and "overdue" in tasks
    assert "done" in term("task", "done", ransomware, "isolate", "--note", "VLAN cut at 03:10")
    added = term("task", "add", ransomware, "--title", "Call the insurer", "--due", "tomorrow 09:00")
    assert "09:00 CST" in added

    # A DDoS on BTL's resolvers: escalated, the national level's duties appear.
    screen = term(
        "incident",
        "open",
        "--title",
        "DDoS on BTL DNS resolvers",
        "--category",
        "ddos",
        "--severity",
        "high",
        "--sector",
        "btl",
    )
    ddos = re.search(r"(BZ-\d{4}-\d{4}) opened", screen)[1]  # type: ignore[index]
    escalated = term("incident", "escalate", ddos, "--to", "national", "--reason", "nation-wide DNS outage")
    assert "escalated to national" in escalated and "Brief the National Cybersecurity" in " ".join(
        escalated.split()
    )

    # A citizen reports a phishing wave against bank customers through the web form.
    screen = term(
        "incident",
        "open",
        "--title",
        "SMS phishing against CBB customers",
        "--category",
        "phishing",
        "--severity",
        "medium",
        "--sector",
        "cbb",
        "--summary",
        "SMS messages link to a fake CBB login page",
        "--reporter",
        CITIZEN[0],
        "--reporter-contact",
        CITIZEN[1],
        "--channel",
        "web",
    )
    phishing = re.search(r"(BZ-\d{4}-\d{4}) opened", screen)[1]  # type: ignore[index]
    term("incident", "note", phishing, INTERNAL_NOTE)
    term("incident", "note", phishing, "Kit taken down by the hosting provider", "--share")
    term("indicator", "add", "--incident", phishing, "--domain", "cbb-secure-login.example")

    # Sharing: BEL may not see the bank's AMBER incident; the check says so with exit 1.
    assert "withheld" in term("share", "check", phishing, "--to", "bel", code=1)
    allowed = " ".join(term("share", "check", phishing, "--to", "cbb").split())
    assert "allowed for org:cbb in part: some fields are left out" in allowed  # the reporter

    # One bulletin per sector, each holding what it may see and nothing of the citizen.
    bulletins = {
        org: term("bulletin", "build", "--for", org, "--format", "txt", document=True)
        for org in ("bws", "btl", "cbb", "bel")
    }
    assert "Ransomware on BWS billing servers" in bulletins["bws"]
    assert "Isolate before the encryption spreads" in bulletins["bws"]  # its playbook's advice
    assert "203[.]0[.]113[.]66" in bulletins["bws"] and "203.0.113.66" not in bulletins["bws"]
    assert "SMS phishing against CBB customers" in bulletins["cbb"]
    assert "Kit taken down by the hosting provider" in bulletins["cbb"]
    assert "DDoS on BTL DNS resolvers" in bulletins["btl"]
    assert "SMS phishing" not in bulletins["bel"] and "DDoS on BTL" not in bulletins["bel"]
    assert "Ransomware on BWS" in bulletins["bel"]  # GREEN: the whole community
    for org, text in bulletins.items():
        for secret in (*CITIZEN, INTERNAL_NOTE, "+501 222-0000", "engineer on night shift"):
            assert secret not in text, (org, secret)

    # Closing: refused while duties are open; each done or waived with a reason.
    refused = term("incident", "close", ransomware, "--resolution", "restored from backups", code=1)
    assert "open notification" in refused and f"cirt task waive {ransomware} N" in " ".join(refused.split())
    first, *others = numbers(term, ransomware, "duty")
    term("task", "done", ransomware, first, "--note", "told BWS CIRT in writing at 03:30")
    for number in others:
        term("task", "waive", ransomware, number, "--reason", "PUC: outage under threshold")
    closed = term("incident", "close", ransomware, "--resolution", "restored from backups")
    assert "closed" in closed
    history = term("incident", "history", ransomware)
    assert "Maria Chan" in history and "waived" in history and "closed: restored" in " ".join(history.split())
    assert f"{len(others)} waived" in term("dashboard")
