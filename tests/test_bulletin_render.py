"""Bulletin rendering: the TLP banner, items labelled one by one, escaping, numbers that say nothing.

``compose`` is given released objects the way the gate hands them over (object + its TLP).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cirt.bulletin.render import (
    SHARING_RULES,
    Bulletin,
    bulletin_number,
    compose,
    header_safe,
    md_escape,
    render,
)
from cirt.errors import InvalidValue
from cirt.incidents import INCIDENT_CORE_ID, OUR_EXTENSION_ID
from cirt.tlp import TLP, marking_definition

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
SINCE = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Released:
    obj: dict[str, Any]
    tlp: TLP


def uid(stix_type: str, n: int) -> str:
    return f"{stix_type}--00000000-0000-4000-8000-{n:012d}"


def incident(
    n: int,
    title: str,
    tlp: TLP,
    *,
    category: str = "fraud:phishing",
    description: str = "Customers receive look-alike login e-mails.",
) -> Released:
    return Released(
        {
            "type": "incident",
            "spec_version": "2.1",
            "id": uid("incident", n),
            "created": "2026-03-09T10:00:00.000Z",
            "modified": "2026-03-10T10:00:00.000Z",
            "name": title,
            "description": description,
            "object_marking_refs": [tlp.marking_id],
            "extensions": {
                INCIDENT_CORE_ID: {
                    "extension_type": "property-extension",
                    "investigation_status": "open",
                    "determination": "suspected",
                },
                OUR_EXTENSION_ID: {
                    "extension_type": "property-extension",
                    "reference": f"BZ-2026-000{n}",
                    "category": category,
                    "severity": "high",
                },
            },
        },
        tlp,
    )


def indicator(n: int, pattern: str, tlp: TLP, name: str = "") -> Released:
    return Released(
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": uid("indicator", n),
            "created": "2026-03-10T10:00:00.000Z",
            "modified": "2026-03-10T10:00:00.000Z",
            "name": name or pattern,
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": "2026-03-10T10:00:00.000Z",
            "object_marking_refs": [tlp.marking_id],
        },
        tlp,
    )


def related(n: int, source: Released, target: Released, tlp: TLP) -> Released:
    return Released(
        {
            "type": "relationship",
            "spec_version": "2.1",
            "id": uid("relationship", n),
            "created": "2026-03-10T10:00:00.000Z",
            "modified": "2026-03-10T10:00:00.000Z",
            "relationship_type": "related-to",
            "source_ref": source.obj["id"],
            "target_ref": target.obj["id"],
            "object_marking_refs": [tlp.marking_id],
        },
        tlp,
    )


def bulletin(released: list[Released], recipient: str = "Central Bank of Belize") -> Bulletin:
    levels = sorted({r.tlp for r in released})
    return compose(
        released,
        definitions=[marking_definition(lvl) for lvl in levels],
        recipient=recipient,
        issuer="National CIRT of Belize",
        contact="duty@cirt.bz.example",
        number="BZ-20260310-K7QD2",
        issued=NOW,
        since=SINCE,
        bundle_id="bundle--6c8b3c43-4a3b-4f7e-9d52-0d3e8d0e1a11",
    )


@pytest.fixture
def mixed() -> Bulletin:
    amber = incident(1, "Phishing campaign imitating online banking", TLP.AMBER)
    green = incident(2, "Scanning of VPN gateways", TLP.GREEN, category="information-gathering:scanner")
    domain = indicator(1, "[domain-name:value = 'centralbank-online-login.example']", TLP.AMBER)
    ip = indicator(2, "[ipv4-addr:value = '203.0.113.45']", TLP.GREEN)
    return bulletin(
        [amber, green, domain, ip, related(1, domain, amber, TLP.AMBER), related(2, ip, green, TLP.GREEN)]
    )


# --- TLP banner, per-item labels, header and footer -------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "txt", "html"])
def test_the_most_restrictive_label_heads_and_ends_the_bulletin(mixed: Bulletin, fmt: str) -> None:
    text = render(mixed, fmt)
    assert mixed.tlp is TLP.AMBER
    lines = [line for line in re.sub(r"<[^>]+>", "", text).splitlines() if line.strip()]
    head = next(line for line in lines if "TLP:" in line)
    assert "TLP:AMBER" in head and "TLP:AMBER+STRICT" not in head
    footer = " ".join(lines[-2:])
    assert re.search(r"TLP:AMBER\b(?!\+)", footer) and "TLP:AMBER+STRICT" not in footer
    assert SHARING_RULES[TLP.AMBER] in text


def test_the_subject_starts_with_the_label_and_reveals_no_content(mixed: Bulletin) -> None:
    assert mixed.subject.startswith("[TLP:AMBER] National CIRT of Belize security bulletin ")
    assert "Phishing" not in mixed.subject and "2 incidents, 2 indicators" in mixed.subject


@pytest.mark.parametrize(
    "level, words",
    [
        (TLP.CLEAR, "not limited"),
        (TLP.GREEN, "not on publicly accessible channels"),
        (TLP.AMBER, "and with its clients"),
        (TLP.AMBER_STRICT, "Organisation only"),
        (TLP.RED, "named recipient alone"),
    ],
)
def test_the_banner_states_the_sharing_rule_of_the_level_in_plain_words(level: TLP, words: str) -> None:
    text = render(bulletin([incident(1, "Outage", level)]), "md")
    assert f"**{level.label}**: " in text and words in text


def test_amber_strict_says_organisation_only_and_not_clients() -> None:
    text = render(bulletin([incident(1, "Outage", TLP.AMBER_STRICT)]), "txt")
    assert "TLP:AMBER+STRICT: Organisation only" in text and "not with its clients" in text


def test_every_item_carries_its_own_label(mixed: Bulletin) -> None:
    text = render(mixed, "txt")
    assert "[TLP:AMBER] BZ-2026-0001: Phishing campaign imitating online banking" in text
    assert "[TLP:GREEN] BZ-2026-0002: Scanning of VPN gateways" in text
    assert "[TLP:AMBER] [domain-name:value = 'centralbank-online-login[.]example']" in text
    assert "[TLP:GREEN] [ipv4-addr:value = '203[.]0[.]113[.]45']" in text
    md = render(mixed, "md")
    assert re.search(r"\| \*\*TLP:GREEN\*\* \| .*203\\\[\.\\\]0.* \| BZ-2026-0002 \|", md)


def test_indicators_are_tabled_with_their_incident(mixed: Bulletin) -> None:
    rows = {r.pattern: r.incident for r in mixed.indicators}
    assert rows == {
        "[domain-name:value = 'centralbank-online-login.example']": "BZ-2026-0001",
        "[ipv4-addr:value = '203.0.113.45']": "BZ-2026-0002",
    }


def test_recommended_actions_follow_the_content_and_take_its_label(mixed: Bulletin) -> None:
    labels = {a.text.split(" ")[0]: a.tlp for a in mixed.actions}
    assert labels["Warn"] is TLP.AMBER  # prompted by the AMBER phishing incident
    assert labels["Watch"] is TLP.GREEN  # prompted by the GREEN scanning incident
    assert labels["Search"] is TLP.AMBER  # the indicators include an AMBER one
    assert labels["Report"] is TLP.CLEAR


def test_a_course_of_action_released_becomes_an_action() -> None:
    coa = Released(
        {
            "type": "course-of-action",
            "spec_version": "2.1",
            "id": "course-of-action--00000000-0000-4000-8000-000000000301",
            "created": "2026-03-10T10:00:00.000Z",
            "modified": "2026-03-10T10:00:00.000Z",
            "name": "Disable legacy VPN authentication",
        },
        TLP.GREEN,
    )
    b = bulletin([coa])
    assert b.actions[0].text == "Disable legacy VPN authentication" and b.actions[0].tlp is TLP.GREEN


def test_notes_appear_as_updates_of_their_incident_with_their_label() -> None:
    amber = incident(1, "Phishing", TLP.AMBER)
    note = Released(
        {
            "type": "note",
            "spec_version": "2.1",
            "id": "note--00000000-0000-4000-8000-000000000401",
            "created": "2026-03-10T11:00:00.000Z",
            "modified": "2026-03-10T11:00:00.000Z",
            "content": "Takedown request sent.",
            "object_refs": [amber.obj["id"]],
        },
        TLP.AMBER_STRICT,
    )
    text = render(bulletin([amber, note]), "txt")
    assert "- [TLP:AMBER+STRICT] update of 2026-03-10T11:00:00.000Z: Takedown request sent." in text


def test_an_empty_release_makes_a_clear_bulletin_that_says_so() -> None:
    b = bulletin([])
    assert b.tlp is TLP.CLEAR and b.empty
    assert "No incident for you in this period." in render(b, "txt")


# --- STIX ---------------------------------------------------------------------------------------


def test_the_stix_format_is_the_bundle_of_released_objects_and_their_markings(mixed: Bulletin) -> None:
    bundle = json.loads(render(mixed, "stix"))
    assert bundle["type"] == "bundle" and bundle["id"].startswith("bundle--")
    ids = [o["id"] for o in bundle["objects"]]
    assert TLP.AMBER.marking_id in ids and TLP.GREEN.marking_id in ids
    assert len([i for i in ids if i.startswith(("incident--", "indicator--"))]) == 4


def test_the_stix_bundle_is_valid_stix() -> None:
    from stix2validator import ValidationOptions, validate_instance

    b = bulletin([indicator(1, "[ipv4-addr:value = '203.0.113.45']", TLP.GREEN)])
    result = validate_instance(json.loads(render(b, "stix")), ValidationOptions(strict=False))
    assert result.is_valid, [str(e) for e in result.errors]


def test_an_unknown_format_is_refused(mixed: Bulletin) -> None:
    with pytest.raises(InvalidValue, match="md, html, txt, stix"):
        render(mixed, "pdf")


# --- escaping -----------------------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script> *bold* [link](http://evil.example) | cell\n# Heading &amp;"


def test_html_escapes_incident_content() -> None:
    text = render(bulletin([incident(1, HOSTILE, TLP.GREEN, description=HOSTILE)]), "html")
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&amp;amp;" in text


def test_markdown_escapes_incident_content_onto_one_line() -> None:
    text = render(bulletin([incident(1, HOSTILE, TLP.GREEN, description=HOSTILE)]), "md")
    assert "<script>" not in text and "\\<script\\>" in text
    assert "\\[link\\](http://evil.example)" in text and "\\*bold\\*" in text
    assert "\\| cell # Heading \\&amp;" in text
    assert "\n# Heading" not in text


def test_text_removes_terminal_escapes() -> None:
    text = render(bulletin([incident(1, "Outage \x1b[2J\x1b[31mred", TLP.GREEN)]), "txt")
    assert "\x1b" not in text and "Outage [2J[31mred" in text


@given(st.text(max_size=60))
def test_markdown_escaping_leaves_no_active_markup(value: str) -> None:
    escaped = md_escape(value)
    assert "\n" not in escaped and "\r" not in escaped
    unescaped = re.sub(r"\\.", "", escaped)
    assert not re.search(r"[`*_\[\]<>|~&!]", unescaped)
    assert not re.match(r"\s*([#=+\->]|\d+[.)])", escaped)


def test_header_safe_flattens_cr_lf_and_controls() -> None:
    assert header_safe("Outage\r\nBcc: attacker@evil.example\x00") == "Outage Bcc: attacker@evil.example"


# --- numbers --------------------------------------------------------------------------------------


def test_bulletin_numbers_are_a_date_and_a_random_suffix_not_a_counter() -> None:
    numbers = {bulletin_number("BZ", NOW) for _ in range(50)}
    assert len(numbers) == 50
    assert all(re.fullmatch(r"BZ-20260310-[A-Z2-9]{5}", n) for n in numbers)
