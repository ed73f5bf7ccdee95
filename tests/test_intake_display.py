"""Data is never markup, for intake, triage and routing: a hostile report (by e-mail, every
field carrying Rich markup, an ANSI escape, a bidi override, a zero-width space, an emoji code)
and a hostile routed value are shown as written by every command that shows them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from tests.test_data_is_never_markup import HIDDEN_RAW, HOSTILE

MARKUP = ("[/b]", "[bold red]TLP:RED[/]", ":smile:")


def hostile_mail(path: Path) -> Path:
    from email.header import Header

    subject = Header(HOSTILE, "utf-8").encode()
    name = Header(HOSTILE, "utf-8").encode()
    path.write_bytes(
        f"From: {name} <eve@example.org>\r\nSubject: {subject}\r\n"
        "Message-ID: <hostile@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n".encode() + HOSTILE.encode()
        + b"\r\nsee https://x[/b].bws.bz/a\r\n")
    return path


def test_intake_triage_and_route_commands_show_hostile_text_as_written(
        cli: Any, tmp_path: Path) -> None:
    problems: list[str] = []

    def run(*args: str) -> str:
        result = cli(*args)
        text = result.out + result.err
        if result.code != 0 or "Traceback" in text:
            problems.append(f"{args}: exit {result.code}: {result.err[:300]}")
        for raw in HIDDEN_RAW:
            if raw in text:
                problems.append(f"{args}: {raw!r} reached the terminal")
        return text

    shown = run("intake", "mail", str(hostile_mail(tmp_path / "hostile.eml")))
    [report] = cli("triage", "list", "--json").json()
    reference = report["reference"]
    shown += run("triage", "list")
    shown += run("triage", "show", reference)
    shown += run("triage", "accept", reference, "--org", "bws", "--title", HOSTILE)
    other = cli("intake", "mail", str(hostile_mail(tmp_path / "again.eml"))).out
    assert "already report" in other
    stamp = "2026-03-10T12:00:00.000Z"
    bundle = tmp_path / "partner.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": stamp, "modified": stamp, "name": HOSTILE.replace("\x1b", ""),
        "pattern": "[domain-name:value = 'evil[b].bws.bz']", "pattern_type": "stix",
        "valid_from": stamp,
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}]}))
    assert cli("import", str(bundle), "--source", "vendor").code == 0
    shown += run("route", "list")
    shown += run("route", "send", "-o", str(tmp_path / "out"))
    assert problems == [], "\n".join(problems)
    for text in MARKUP:
        assert text in shown, text
    assert "zero<U+200B>width" in shown  # hidden characters kept by intake are shown
    assert "evil[b].bws.bz" in shown


def test_a_rejection_reason_is_shown_as_written(cli: Any, tmp_path: Path) -> None:
    assert cli("intake", "mail", str(hostile_mail(tmp_path / "h.eml"))).code == 0
    [report] = cli("triage", "list", "--json").json()
    assert cli("triage", "reject", report["reference"], "--reason", HOSTILE).code == 0
    out = cli("triage", "show", report["reference"]).out
    assert "[bold red]TLP:RED[/]" in out and "<U+202E>" in out and "\x1b" not in out
