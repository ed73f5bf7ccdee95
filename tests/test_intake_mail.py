"""Reports by e-mail: .eml, mbox and a real IMAP server (Debian's Dovecot on 127.0.0.1).

Each message becomes a report with its sender as reporter; attachments are checked and hashed;
a forwarded phishing message yields candidate indicators, defanged spellings understood; crafted
headers cannot add lines or headers anywhere."""

from __future__ import annotations

import hashlib
import imaplib
import mailbox
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from cirt.demos.servers import free_port
from cirt.workspace import Workspace
from tests.tls import loopback_certificate

PNG = b"\x89PNG\r\n\x1a\n" + bytes(120)


def phishing() -> EmailMessage:
    """What a bank customer received: a defanged copy is in the body, the real one attached."""
    original = EmailMessage()
    original["From"] = "Central Bank Security <alerts@cbb-secure-login.example>"
    original["To"] = "customer@example.org"
    original["Subject"] = "Your account is suspended"
    original["Message-ID"] = "<phish-1@cbb-secure-login.example>"
    original.set_content(
        "Dear customer, verify now at https://cbb-secure-login.example/verify "
        "or your card is blocked. Official site: https://www.centralbank.org.bz/"
    )
    return original


def forward(
    original: EmailMessage,
    *,
    sender: str = "Maria Chan <maria@example.org>",
    subject: str = "Fwd: Your account is suspended",
    message_id: str = "<fwd-1@example.org>",
    extra: Sequence[tuple[bytes, str, str]] = (),
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "report@cirt.bz.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(
        "I got this, the link was hxxps://cbb-secure-login[.]example/verify and the"
        " page posted to 203.0.113[.]45. Is it real?"
    )
    message.add_attachment(original)
    for data, name, kind in extra:
        maintype, subtype = kind.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


def test_a_forwarded_phishing_message_becomes_a_report_with_candidates_and_evidence(
    cli: Any, tmp_path: Path, home: Path
) -> None:
    eml = tmp_path / "report.eml"
    eml.write_bytes(
        forward(
            phishing(),
            extra=[
                (PNG, "screen.png", "image/png"),
                (b"MZ\x90\x00" + bytes(64), "invoice.pdf", "application/pdf"),
            ],
        ).as_bytes()
    )
    result = cli("intake", "mail", str(eml), "--json")
    assert result.code == 0, result.err
    [outcome] = result.json()
    assert outcome["status"] == "new"
    assert outcome["skipped_attachments"] == ["invoice.pdf is not a picture, PDF, text or saved e-mail"]
    report = cli("triage", "show", outcome["reference"], "--json").json()
    assert report["channel"] == "email" and report["category"] == "phishing"
    assert report["reporter_contact"] == "maria@example.org" and report["reporter_name"] == "Maria Chan"
    assert report["reporter_kind"] == "citizen"
    assert [(a["name"], a["media_type"]) for a in report["attachments"]] == [
        ("forwarded.eml", "message/rfc822"),
        ("screen.png", "image/png"),
    ]
    assert report["attachments"][1]["sha256"] == hashlib.sha256(PNG).hexdigest()
    found = {(i["kind"], i["value"]) for i in report["indicators"]}
    assert {
        ("email", "alerts@cbb-secure-login.example"),
        ("domain", "cbb-secure-login.example"),
        ("url", "https://cbb-secure-login.example/verify"),
        ("ip", "203.0.113.45"),
    } <= found
    assert not any("centralbank.org.bz" in v for _, v in found), "our own domains are no candidates"
    assert ("email", "maria@example.org") not in found, "the reporter is not an indicator"


def test_a_message_read_twice_is_one_report_and_an_mbox_gives_one_report_each(
    cli: Any, tmp_path: Path
) -> None:
    box_path = tmp_path / "reports.mbox"
    box = mailbox.mbox(str(box_path))
    box.add(forward(phishing()))
    box.add(forward(phishing(), sender="soc@cbb.bz.example", message_id="<fwd-2@cbb>"))
    box.add(forward(phishing()))  # the first again
    box.close()
    outcomes = cli("intake", "mail", str(box_path), "--json").json()
    assert [o["status"] for o in outcomes] == ["new", "new", "duplicate"]
    assert outcomes[2]["reference"] == outcomes[0]["reference"]
    second = cli("triage", "show", outcomes[1]["reference"], "--json").json()
    assert second["reporter_kind"] == "organisation"  # a contact of sectors.yaml
    assert len(cli("triage", "list", "--json").json()) == 2


def test_header_injection_cannot_add_lines_or_headers(cli: Any, tmp_path: Path) -> None:
    raw = (
        b"From: =?utf-8?q?Eve=0D=0ABcc=3A_all=40example=2Eorg?= <eve@example.org>\r\n"
        b"Subject: =?utf-8?q?Hello=0D=0AX-Injected=3A_yes=0A=1B[31mred=E2=80=AE?=\r\n"
        b"Message-ID: <inject@example.org>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"<script>alert(1)</script> see http://203.0.113.7/x\r\n"
    )
    eml = tmp_path / "inject.eml"
    eml.write_bytes(raw)
    [outcome] = cli("intake", "mail", str(eml), "--json").json()
    report = cli("triage", "show", outcome["reference"], "--json").json()
    for value in (report["summary"], report["reporter_name"], report["reporter_contact"]):
        assert "\n" not in value and "\r" not in value and "\x1b" not in value
        assert "\u202e" not in value
    assert report["summary"].startswith("Hello X-Injected: yes")
    assert report["reporter_contact"] == "eve@example.org"
    listed = cli("triage", "list")
    assert listed.code == 0 and "X-Injected" in listed.out
    assert not any(line.startswith("X-Injected") for line in listed.out.splitlines())
    assert "<script>alert(1)</script>" in report["what"]


def test_unusable_files_are_refused_in_one_line_and_store_nothing(
    cli: Any, tmp_path: Path, home: Path
) -> None:
    missing = cli("intake", "mail", str(tmp_path / "nope.eml"))
    assert missing.code == 1 and "no such file" in missing.err and "Traceback" not in missing.err
    big = tmp_path / "big.eml"
    big.write_bytes(b"Subject: x\r\n\r\n" + b"a" * (31 * 1024 * 1024))
    refused = cli("intake", "mail", str(big))
    assert refused.code == 1 and "larger than" in refused.err
    with Workspace.open(home) as ws:
        assert ws.intake.list() == []


# --- IMAP against Dovecot -----------------------------------------------------------------------

DOVECOT = "/usr/sbin/dovecot"


@dataclass
class Imap:
    port: int
    user: str
    password: str
    tls_port: int
    cert: Path

    def append(self, message: EmailMessage) -> None:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(self.user, self.password)
        client.append("INBOX", None, None, message.as_bytes())
        client.logout()


@pytest.fixture
def dovecot() -> Iterator[Imap]:
    """Dovecot on an unprivileged loopback port, its whole configuration in a temporary folder
    that its unprivileged processes can reach (pytest's own is private to the user)."""
    if not shutil.which(DOVECOT):
        pytest.skip("Dovecot (dovecot-imapd) comes from scripts/setup.sh")
    root = Path(tempfile.mkdtemp(prefix="cirt-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir(parents=True)
    if os.getuid() == 0:  # Dovecot refuses uid 0 for mail: the mailbox belongs to nobody
        owner = pwd.getpwnam("nobody")
        os.chown(root / "mail", owner.pw_uid, owner.pw_gid)
        login_user, internal_user = "dovenull", "dovecot"
    else:
        owner = pwd.getpwuid(os.getuid())
        login_user = internal_user = owner.pw_name
    port, tls_port = free_port(), free_port()
    cert, key = loopback_certificate(root)
    (root / "passwd").write_text(
        f"reports:{{PLAIN}}imap-s3cret:{owner.pw_uid}:{owner.pw_gid}::{root / 'mail' / 'reports'}\n"
    )
    (root / "dovecot.conf").write_text(f"""
base_dir = {root / "run"}
state_dir = {root / "state"}
log_path = {root / "dovecot.log"}
instance_name = cirt-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 0
mail_location = maildir:{root / "mail"}/%u
default_login_user = {login_user}
default_internal_user = {internal_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root / "passwd"}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root / "passwd"}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
""")
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                    pytest.fail(f"Dovecot did not start: {log[-500:]}")
                time.sleep(0.1)
        yield Imap(port, "reports", "imap-s3cret", tls_port, cert)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        shutil.rmtree(root, ignore_errors=True)


def test_unread_messages_of_the_mailbox_become_reports_once(
    cli: Any, home: Path, dovecot: Imap, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (home / "config.toml").open("a") as config:
        config.write(
            f'\n[intake]\nimap_host = "127.0.0.1"\nimap_port = {dovecot.port}\n'
            f'imap_user = "{dovecot.user}"\nimap_security = "none"\n'
        )
    not_set = cli("intake", "imap")
    assert not_set.code == 1 and "CIRT_INTAKE_IMAP_PASSWORD" in not_set.err
    monkeypatch.setenv("CIRT_INTAKE_IMAP_PASSWORD", "wrong")
    wrong = cli("intake", "imap")
    assert wrong.code == 1 and wrong.err.startswith("cirt: IMAP 127.0.0.1") and "wrong" not in wrong.err

    monkeypatch.setenv("CIRT_INTAKE_IMAP_PASSWORD", dovecot.password)
    dovecot.append(forward(phishing()))
    dovecot.append(
        forward(
            phishing(),
            sender="bws <security@bws.bz.example>",
            message_id="<fwd-9@bws>",
            extra=[(PNG, "scada.png", "image/png")],
        )
    )
    first = cli("intake", "imap", "--json")
    assert first.code == 0, first.err
    assert [o["status"] for o in first.json()] == ["new", "new"]
    assert cli("intake", "imap", "--json").json() == []  # read: marked seen on the server
    dovecot.append(forward(phishing()))  # the same message delivered again
    assert [o["status"] for o in cli("intake", "imap", "--json").json()] == ["duplicate"]
    reports = cli("triage", "list", "--json").json()
    assert [r["reporter_contact"] for r in reports] == ["maria@example.org", "security@bws.bz.example"]


def test_the_mailbox_over_tls_is_read_only_when_its_certificate_is_trusted(
    cli: Any, home: Path, dovecot: Imap, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (home / "config.toml").open("a") as config:
        config.write(
            f'\n[intake]\nimap_host = "127.0.0.1"\nimap_port = {dovecot.tls_port}\n'
            f'imap_user = "{dovecot.user}"\nimap_security = "ssl"\n'
        )
    monkeypatch.setenv("CIRT_INTAKE_IMAP_PASSWORD", dovecot.password)
    dovecot.append(forward(phishing()))
    untrusted = cli("intake", "imap")
    assert untrusted.code == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.err
    assert untrusted.err.count("\n") == 1
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.cert))  # the CIRT trusts its mail server
    trusted = cli("intake", "imap", "--json")
    assert trusted.code == 0, trusted.err
    assert [o["status"] for o in trusted.json()] == ["new"]
