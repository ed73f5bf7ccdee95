"""Data is never markup: hostile text in every field is shown as written, never obeyed.

Titles, notes, reasons, indicator names and patterns, evidence notes, task notes, a partner's
bundle and the sharing community's own names all carry Rich markup (``[/b]``, a fake red
``TLP:RED`` label), quotes, an ANSI escape, a bidi override and a zero-width space.  Every
command that shows stored text is run on them: none crashes, markup is printed as text, the
escape never reaches the terminal, and the hidden characters are shown as ``<U+XXXX>``.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from cirt.bulletin.render import looks_like_banner
from cirt.cli.app import GROUPS, build_app
from cirt.display import visible

HOSTILE = (
    '[/b] [bold red]TLP:RED[/] it\'s "quoted" \x1b[31mred\x1b[0m \u202eexe.txt\u202c zero\u200bwidth :smile:'
)
SHOWN = (
    "[/b]",
    "[bold red]TLP:RED[/]",
    'it\'s "quoted"',
    "<U+001B>[31mred<U+001B>[0m",
    "<U+202E>exe.txt<U+202C>",
    "zero<U+200B>width",
    ":smile:",
)
# What a peer may send: the import refuses control characters, the rest is accepted.
PEER_HOSTILE = HOSTILE.replace("\x1b", "")
HIDDEN_RAW = ("\x1b", "\u202e", "\u202c", "\u200b", "😄")

# Commands that show no stored text (they create, change or check, and print a fixed line),
# or need a server, a network peer or a second database; the rest are run below.
NOT_SHOWING_STORED_TEXT = {
    "init",
    "check",
    "demo",
    "db status",
    "db migrate",
    "db copy",
    "taxii serve",
    "taxii credential",
    "taxii discover",
    "taxii pull",
    "taxii push",
    "misp push",
    "misp pull",
    "misp tlp",
    "audit verify",
    "audit checkpoint",
    "bulletin send",
    "sector check",
    "playbook validate",
    "share add",
    "share remove",
    "share lower",
    "import",
    "intake serve",
    "intake imap",
    # issue 13: they print ids, references and fixed words; what they change shows elsewhere
    "sighting add",
    "indicator revoke",
    "indicator expire",
    "indicator false-positive",
    "incident link",
    "incident merge",
}

# Commands whose output is the data itself (a STIX bundle, a MISP event) for another program:
# the text travels exactly as stored, JSON-escaped, so only control characters are escaped.
DATA_OUTPUT = {"export", "misp export"}


def command_paths() -> set[str]:
    top = typer.main.get_command(build_app())
    paths: set[str] = set()
    for name in top.commands:  # type: ignore[attr-defined]
        if name in GROUPS:
            group = typer.main.get_command(build_app(name)).commands[name]  # type: ignore[attr-defined]
            paths |= {f"{name} {sub}" for sub in group.commands}
        else:
            paths.add(name)
    return paths


def partner_bundle() -> dict[str, Any]:
    green = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
    stamp = "2026-03-10T12:00:00.000Z"
    return {
        "type": "bundle",
        "id": "bundle--0f0c0b7c-3b53-4b8a-9a3e-4a0e6f2f7a11",
        "objects": [
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": "indicator--6d5c8a4e-1f0b-4f3e-9c1a-0a4b2c3d4e5f",
                "created": stamp,
                "modified": stamp,
                "name": PEER_HOSTILE,
                "description": PEER_HOSTILE,
                "pattern": "[domain-name:value = 'evil[/b].example']",
                "pattern_type": "stix",
                "valid_from": stamp,
                "object_marking_refs": [green],
            },
            {
                "type": "indicator",
                "spec_version": "2.1",  # inside BWS's 192.0.2.128/26: routed
                "id": "indicator--7e6d9b5f-2a1c-4d4f-8d2b-1b5c3d4e5f60",
                "created": stamp,
                "modified": stamp,
                "name": PEER_HOSTILE,
                "pattern": "[ipv4-addr:value = '192.0.2.130']",
                "pattern_type": "stix",
                "valid_from": stamp,
                "object_marking_refs": [green],
            },
        ],
    }


def hostile_mail(path: Path, subject: str) -> Path:
    """A citizen's e-mail whose name, subject and body are hostile text."""
    safe_name = PEER_HOSTILE.replace("\n", " ").replace('"', "'")
    path.write_bytes(
        (
            f'From: "{safe_name}" <citizen@mail.example>\r\n'
            "To: report@cirt.example\r\n"
            f"Subject: {subject}\r\n"
            "Message-ID: <" + path.stem + "@mail.example>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            f"{PEER_HOSTILE}\r\nhxxp://login-cbb[.]example/[b]\r\n"
        ).encode()
    )
    return path


@pytest.fixture
def hostile_day(cli: Any, home: Path, tmp_path: Path) -> str:
    """A workspace where every field a person can type or a partner can send is hostile."""
    sectors = yaml.safe_load((home / "sectors.yaml").read_text())
    sectors["national_cirt"]["name"] = HOSTILE
    for org in sectors["organisations"]:
        if org["id"] == "bws":
            org["name"] = HOSTILE
    (home / "sectors.yaml").write_text(yaml.safe_dump(sectors, allow_unicode=False))
    opened = cli(
        "incident",
        "open",
        "--title",
        HOSTILE,
        "--description",
        HOSTILE,
        "--category",
        "malicious-code:infected-system",
        "--severity",
        "high",
        "--sector",
        "bws",
        "--tlp",
        "green",
        "--json",
    )
    assert opened.code == 0, opened.err
    ref: str = opened.json()["reference"]
    steps = [
        ("incident", "note", ref, HOSTILE, "--tlp", "green", "--share"),
        ("incident", "update", ref, "--title", HOSTILE + " (updated)"),
        ("incident", "assign", ref, "analyst[/b]"),
        ("incident", "escalate", ref, "--to", "national", "--reason", HOSTILE),
        (
            "indicator",
            "add",
            "--incident",
            ref,
            "--pattern",
            "[domain-name:value = 'bad[/b].example']",
            "--name",
            HOSTILE,
            "--tlp",
            "green",
        ),
        ("indicator", "add", "--incident", ref, "--url", "http://x.example/[bold]a[/]", "--tlp", "green"),
        ("task", "add", ref, "--title", HOSTILE, "--due", "4h"),
        ("task", "done", ref, "1", "--answer", "no", "--note", HOSTILE),
        ("share", "add", ref, "--org", "cbb"),
    ]
    for step in steps:
        result = cli(*step)
        assert result.code == 0, (step, result.err)
    evidence = tmp_path / "headers.eml"
    evidence.write_text("Received: from x\n")
    (tmp_path / "second[b]\u202e.eml").write_text("Received: from y\n")
    assert cli("evidence", "add", ref, str(evidence), "--note", HOSTILE).code == 0
    assert cli("evidence", "handover", ref, "E1", "--to", "analyst[/b]", "--note", HOSTILE).code == 0
    bundle = tmp_path / "partner.json"
    bundle.write_text(json.dumps(partner_bundle()))
    imported = cli("import", str(bundle), "--source", "partner[/b]")
    assert imported.code == 0, imported.err
    refused = tmp_path / "refused[b] [bold red]\u202e.json"  # in the refusal log
    refused.write_text('{"type": "bundle", "objects": [], "objects": []}')
    assert cli("import", str(refused), "--source", PEER_HOSTILE).code == 1
    mailed = cli("intake", "mail", str(hostile_mail(tmp_path / "first.eml", "[/b] first")))
    assert mailed.code == 0, mailed.err
    return ref


def report_references(cli: Any) -> list[str]:
    return [r["reference"] for r in cli("triage", "list", "--json").json()]


def displays(ref: str, tmp_path: Path, reports: list[str]) -> dict[str, list[tuple[str, ...]]]:
    """Each command that shows stored text, with the arguments that make it show the most."""
    feed = str(tmp_path / "feed")
    third_mail = str(tmp_path / "third.eml")
    return {
        "intake mail": [("intake", "mail", third_mail)],
        "triage list": [("triage", "list", "--all")],
        "triage show": [("triage", "show", r) for r in reports],
        "triage reject": [("triage", "reject", r, "--reason", HOSTILE) for r in reports[:1]],
        "triage accept": [("triage", "accept", r, "--into", ref) for r in reports[1:]],
        "route list": [("route", "list")],
        "route send": [("route", "send", "-o", str(tmp_path), "--format", "txt")],
        "overdue": [("overdue", "--within", "30d")],
        "dashboard": [("dashboard",)],
        "export": [("export", "--for", "cbb")],
        "incident open": [
            (
                "incident",
                "open",
                "--title",
                HOSTILE,
                "--category",
                "phishing",
                "--severity",
                "low",
                "--sector",
                "cbb",
            )
        ],
        "incident list": [("incident", "list")],
        "incident show": [("incident", "show", ref)],
        "incident update": [("incident", "update", ref, "--description", HOSTILE)],
        "incident note": [("incident", "note", ref, HOSTILE)],
        "incident assign": [("incident", "assign", ref, HOSTILE)],
        "incident escalate": [("incident", "escalate", ref, "--to", "coordinator", "--reason", HOSTILE)],
        "task waive": [],  # every open duty, before closing: see waive_open_duties
        "incident close": [("incident", "close", ref, "--resolution", HOSTILE)],
        "incident reopen": [("incident", "reopen", ref, "--reason", HOSTILE)],
        "incident history": [("incident", "history", ref)],
        "incident categories": [("incident", "categories")],
        "indicator add": [
            ("indicator", "add", "--incident", ref, "--name", HOSTILE, "--domain", "again.example")
        ],
        "indicator list": [("indicator", "list")],
        "sector list": [("sector", "list")],
        "sector show": [("sector", "show", "bws")],
        "share list": [("share", "list", ref)],
        "share check": [("share", "check", ref, "--to", "cbb")],
        "share who": [("share", "who", ref)],
        "audit log": [("audit", "log")],
        "audit refusals": [("audit", "refusals"), ("audit", "refusals", "--source", PEER_HOSTILE)],
        "bulletin build": [
            ("bulletin", "build", "--for", "bws", "--format", fmt) for fmt in ("txt", "md", "html")
        ],
        "misp export": [("misp", "export", "--incident", ref, "--for", "csirtamericas")],
        "misp feed": [("misp", "feed", feed, "--for", "csirtamericas")],
        "playbook list": [("playbook", "list")],
        "playbook show": [("playbook", "show", "ransomware")],
        "task list": [("task", "list", ref)],
        "task done": [("task", "done", ref, "2", "--note", HOSTILE)],
        "task cancel": [("task", "cancel", ref, "3", "--note", HOSTILE)],
        "task add": [("task", "add", ref, "--title", HOSTILE)],
        "evidence add": [("evidence", "add", ref, str(tmp_path / "second[b]\u202e.eml"), "--note", HOSTILE)],
        "evidence handover": [("evidence", "handover", ref, "E1", "--to", HOSTILE)],
        "evidence verify": [("evidence", "verify", ref, "E1", str(tmp_path / "headers.eml"))],
        "evidence list": [("evidence", "list", ref)],
        "search": [("search", "again.example"), ("search", "updated")],
        "correlate": [("correlate",)],  # exit 1: there are matches (for cron)
        "report": [("report", "--since", "2026-01-01", "--format", fmt) for fmt in ("terminal", "md", "csv")],
        "indicator show": [],  # every indicator: see indicator_shows
    }


def indicator_shows(cli: Any) -> list[tuple[str, ...]]:
    listed = cli("indicator", "list", "--limit", "1000", "--json").json()["objects"]
    return [("indicator", "show", i["id"]) for i in listed]


def waive_open_duties(cli: Any, ref: str) -> list[tuple[str, ...]]:
    tasks = cli("task", "list", ref, "--json").json()["tasks"]
    return [
        ("task", "waive", ref, str(t["number"]), "--reason", HOSTILE)
        for t in tasks
        if t["kind"] == "duty" and t["state"] == "open"
    ]


def test_every_command_is_run_here_or_shows_no_stored_text(tmp_path: Path) -> None:
    covered = set(displays("BZ-2026-0001", tmp_path, [])) | NOT_SHOWING_STORED_TEXT
    assert command_paths() - covered == set(), "a new command: add it to displays()"


def test_hostile_text_is_shown_as_written_by_every_command(
    cli: Any, hostile_day: str, tmp_path: Path
) -> None:
    problems: list[str] = []
    seen: set[str] = set()
    second = hostile_mail(tmp_path / "second.eml", "[bold red]TLP:RED[/] second")
    assert cli("intake", "mail", str(second)).code == 0
    hostile_mail(tmp_path / "third.eml", "third :smile:")
    for name, runs in displays(hostile_day, tmp_path, report_references(cli)).items():
        if name == "task waive":
            runs = waive_open_duties(cli, hostile_day)
        if name == "indicator show":
            runs = indicator_shows(cli)
        for args in runs:
            result = cli(*args)
            text = result.out + result.err
            failed = result.code != 0 and not (name == "correlate" and result.code == 1)
            if failed or "Traceback" in text or "internal error" in text:
                problems.append(f"{name}: exit {result.code}: {result.err.strip()[:300]}")
            for raw in HIDDEN_RAW if name not in DATA_OUTPUT else ("\x1b",):
                if raw in text:
                    problems.append(f"{name}: {raw!r} reached the terminal")
            seen |= {shown for shown in SHOWN if shown in text}
    assert problems == [], "\n".join(problems)
    assert seen == set(SHOWN)


def test_stix_patterns_fill_the_pattern_column(cli: Any, hostile_day: str) -> None:
    out = cli("indicator", "list").out
    assert "[domain-name:value = 'bad[/b].example']" in out
    assert "[domain-name:value = 'evil[/b].example']" in out


def test_a_markup_title_does_not_become_a_red_label() -> None:
    """On a colour terminal the fake label stays text: no red, no bold, brackets printed."""
    from cirt.cli.output import _plain_text_console, tlp_text

    terminal = _plain_text_console()(
        force_terminal=True, color_system="truecolor", markup=False, emoji=False, width=80
    )
    with terminal.capture() as captured:
        terminal.print("Phishing [bold red]TLP:RED[/] wave")
    out = captured.get()
    assert "Phishing [bold red]TLP:RED[/] wave" in out and "\x1b[1;" not in out
    with terminal.capture() as captured:
        terminal.print(tlp_text(3))  # the real label is styled: the contrast is the point
    assert "\x1b[" in captured.get()


def test_visible_covers_every_control_format_and_separator_character() -> None:
    missed = [
        hex(cp)
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Zl", "Zp")
        and chr(cp) not in "\n\t"
        and visible(chr(cp)) == chr(cp)
    ]
    assert missed == []
    assert visible("line one\n\ttabbed") == "line one\n\ttabbed"
    assert visible("\u202egnp.exe") == "<U+202E>gnp.exe"


def test_no_content_line_of_a_txt_bulletin_looks_like_a_tlp_banner(cli: Any, hostile_day: str) -> None:
    fakes = ("TLP:CLEAR", "  tlp: clear", "**TLP:RED**", "\uff34\uff2c\uff30:CLEAR", "== TLP:WHITE ==")
    for fake in fakes:
        assert looks_like_banner(fake)
        assert (
            cli("incident", "note", hostile_day, f"Update\n{fake}\nend", "--tlp", "green", "--share").code
            == 0
        )
    out = cli("bulletin", "build", "--for", "bws", "--format", "txt").out
    for fake in fakes:
        assert f"(quoted) {fake.strip()}" in out
        assert not any(line.strip().startswith(fake.strip()) for line in out.splitlines())
