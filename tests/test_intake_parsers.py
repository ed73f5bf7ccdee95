"""Property tests of what reads reporters' text: neutralising, refanging, extracting candidates,
sniffing attachments and parsing mail never fail on arbitrary input and stay linear in time."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from cirt.errors import InvalidValue
from cirt.intake.extract import candidates, refang
from cirt.intake.files import attachment, sniff
from cirt.intake.mail import report_from_message
from cirt.intake.reports import _CONTROLS, clean_text
from cirt.patterns import domain_pattern, email_pattern, ip_pattern, url_pattern
from cirt.workspace import Workspace

BUILDERS = {"url": url_pattern, "domain": domain_pattern, "ip": ip_pattern, "email": email_pattern}


@settings(max_examples=300)
@given(st.text(), st.integers(1, 400), st.booleans())
def test_clean_text_removes_controls_respects_the_limit_and_is_idempotent(
    value: str, limit: int, single_line: bool
) -> None:
    cleaned = clean_text(value, limit, single_line=single_line)
    assert len(cleaned) <= limit and not _CONTROLS.search(cleaned)
    if single_line:
        assert "\n" not in cleaned and "\r" not in cleaned
    assert clean_text(cleaned, limit, single_line=single_line) == cleaned


fragments = st.sampled_from(
    [
        "hxxp://",
        "hxxps://",
        "[.]",
        "(.)",
        "[at]",
        "@",
        ".",
        "/",
        ":",
        "evil",
        "example",
        "203.0.113.9",
        "999.1.1.1",
        "bz",
        "a-b",
        " ",
        "\n",
        "<",
        ">",
        "'",
        "[",
        "]",
        "xn--p1ai",
        "é",
    ]
)


@settings(max_examples=400)
@given(st.lists(fragments | st.text(max_size=5), max_size=40))
def test_every_candidate_makes_a_valid_stix_pattern(parts: list[str]) -> None:
    text = "".join(parts)
    for kind, value in candidates(text, sender="x@evil.example"):
        BUILDERS[kind](value)  # raises InvalidValue if the candidate is not usable


def test_defanged_spellings_are_read_back() -> None:
    assert (
        refang("hxxps://evil[.]example/a and user[at]evil(.)example")
        == "https://evil.example/a and user@evil.example"
    )
    assert candidates("fxp://files[.]evil.example/x") == [
        ("url", "ftp://files.evil.example/x"),
        ("domain", "files.evil.example"),
    ]
    assert candidates("see report.pdf and 10.0.0.300") == []


def test_extraction_is_linear_on_adversarial_text() -> None:
    for hostile in (
        "a." * 50_000,
        "1." * 50_000,
        "http://" + "a" * 100_000,
        "@" * 100_000,
        "[.]" * 30_000,
        "a-" * 50_000 + "!",
    ):
        started = time.process_time()
        candidates(hostile)
        assert time.process_time() - started < 2.0, hostile[:20]


@settings(max_examples=300)
@given(
    st.binary(max_size=300),
    st.sampled_from(["image/png", "application/pdf", "text/plain", "", "application/x-msdownload"]),
)
def test_sniffing_accepts_only_what_the_bytes_are(data: bytes, declared: str) -> None:
    try:
        kept, _ = attachment("f", declared, data, max_bytes=200)
    except InvalidValue:
        return
    assert kept.media_type == sniff(data) and 0 < kept.size <= 200


@settings(max_examples=60, deadline=None)
@given(
    st.binary(max_size=2000)
    | st.lists(
        st.sampled_from(
            [
                b"From: ",
                b"Subject: ",
                b"=?utf-8?q?=0D=0A?=",
                b"<a@b.c>",
                b"\r\n",
                b"\n",
                b"Content-Type: ",
                b"multipart/mixed; boundary=x",
                b"--x",
                b"message/rfc822",
                b"base64",
                b"=?x?b?AAAA?=",
                b"Content-Transfer-Encoding: ",
                b"\xff\xfe",
                b": ",
                b"text/html",
                b"<script>",
            ]
        ),
        max_size=60,
    ).map(b"".join)
)
def test_any_bytes_as_a_message_give_a_report_or_a_refusal(tmp_path_factory, data: bytes) -> None:
    home = tmp_path_factory.mktemp("ws")
    with Workspace.init(home) as ws:
        outcome = report_from_message(ws.context, ws.intake, data, "fuzz")
        assert outcome.status in ("new", "refused")
        rows = ws.intake.list()
        assert len(rows) == (1 if outcome.status == "new" else 0)
        for row in rows:
            assert "\n" not in row.summary and not _CONTROLS.search(row.summary)
