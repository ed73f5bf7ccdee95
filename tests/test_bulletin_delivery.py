"""Bulletins by e-mail against a real SMTP server on 127.0.0.1 and throwaway GnuPG homes.

The CIRT's home holds its secret key and the contact's public key; the contact's home holds the
contact's secret key and the CIRT's public key.  Every message received is read back the way a
contact's mail client would: signature verified, body decrypted, in the contact's own home.
"""

from __future__ import annotations

import dataclasses
import email
import json
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.policy import SMTP
from pathlib import Path
from typing import Any

import gnupg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from cirt.bulletin.message import build_message, protection_for
from cirt.bulletin.render import compose
from cirt.community import Contact, Organisation
from cirt.config import SmtpConfig
from cirt.demos.bulletin import run_chapter
from cirt.errors import RemoteError
from cirt.incidents import OUR_EXTENSION_ID
from cirt.openpgp import GpgSettings, OpenPGP
from cirt.smtp import Mailer
from cirt.tlp import TLP, marking_definition
from cirt.workspace import Workspace
from tests.tls import loopback_certificate

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


# --- a real SMTP server -------------------------------------------------------------------------


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.raw, policy=SMTP)


@dataclass
class Inbox:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, SmtpConfig]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, SmtpConfig(host="127.0.0.1", port=port, sender="bulletins@cirt.bz.example")
    controller.stop()


# --- throwaway GnuPG homes ------------------------------------------------------------------------


def _gpg(home: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(
        ["gpg", "--batch", "--homedir", str(home), *args], input=data, check=True, capture_output=True
    ).stdout


def _new_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="gpg", dir="/tmp"))
    home.chmod(0o700)
    return home


def _new_key(home: Path, uid: str) -> str:
    _gpg(home, "--passphrase", "", "--quick-gen-key", uid, "future-default", "default", "never")
    listing = _gpg(home, "--with-colons", "--list-keys", uid).decode()
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


@dataclass(frozen=True)
class Keys:
    cirt_home: Path
    contact_home: Path
    cirt: str
    contact: str


@pytest.fixture(scope="module")
def keys() -> Iterator[Keys]:
    cirt_home, contact_home = _new_home(), _new_home()
    cirt = _new_key(cirt_home, "National CIRT <duty@cirt.bz.example>")
    contact = _new_key(contact_home, "Maria Chan <soc@cbb.bz.example>")
    _gpg(contact_home, "--import", data=_gpg(cirt_home, "--export", cirt))
    _gpg(cirt_home, "--import", data=_gpg(contact_home, "--export", contact))
    yield Keys(cirt_home, contact_home, cirt, contact)
    for home in (cirt_home, contact_home):
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


# --- reading a message the way the contact's client does ------------------------------------------


def signed_part_bytes(raw: bytes, boundary: str) -> bytes:
    """The exact bytes of the first body part of a multipart/signed message (RFC 3156 5)."""
    delimiter = b"--" + boundary.encode()
    start = raw.index(delimiter + b"\r\n") + len(delimiter) + 2
    end = raw.index(b"\r\n" + delimiter, start)
    return raw[start:end]


def sub_parts(message: Message) -> list[Message]:
    """The parts of a multipart message, in order."""
    parts = message.get_payload()
    assert isinstance(parts, list), "a multipart message"
    messages = [part for part in parts if isinstance(part, Message)]
    assert len(messages) == len(parts)
    return messages


def decoded_body(part: Message) -> bytes:
    """A leaf part's body with its transfer encoding undone."""
    body = part.get_payload(decode=True)
    assert isinstance(body, bytes), "a leaf part"
    return body


def verify_signed(raw: bytes, home: Path) -> tuple[EmailMessage, str]:
    """Check a multipart/signed message; returns the signed entity and the signer's fingerprint."""
    message = email.message_from_bytes(raw, policy=SMTP)
    assert message.get_content_type() == "multipart/signed"
    assert message.get_param("protocol") == "application/pgp-signature"
    _entity, signature = sub_parts(message)
    assert signature.get_content_type() == "application/pgp-signature"
    boundary = message.get_boundary()
    assert boundary is not None
    data = signed_part_bytes(raw, boundary)
    sig_file = home / "signature.asc"
    sig_file.write_bytes(decoded_body(signature))
    verified = gnupg.GPG(gnupghome=str(home)).verify_data(str(sig_file), data)
    assert verified.valid, verified.status
    packets = _gpg(home, "--list-packets", str(sig_file)).decode()
    digest = re.search(r"digest algo (\d+)", packets)
    assert digest is not None
    assert message.get_param("micalg") == {"8": "pgp-sha256", "10": "pgp-sha512"}[digest[1]]
    return email.message_from_bytes(data, policy=SMTP), verified.pubkey_fingerprint


def decrypt(raw: bytes, home: Path) -> tuple[EmailMessage, str]:
    """Open a multipart/encrypted message; returns the inner entity and who signed it."""
    message = email.message_from_bytes(raw, policy=SMTP)
    assert message.get_content_type() == "multipart/encrypted"
    assert message.get_param("protocol") == "application/pgp-encrypted"
    control, payload = sub_parts(message)
    assert control.get_content_type() == "application/pgp-encrypted"
    assert decoded_body(control).strip() == b"Version: 1"
    assert payload.get_content_type() == "application/octet-stream"
    result = gnupg.GPG(gnupghome=str(home)).decrypt(decoded_body(payload))
    assert result.ok, result.status
    assert result.valid, "signed and encrypted in one OpenPGP message"
    return email.message_from_bytes(result.data, policy=SMTP), result.pubkey_fingerprint


def readable(entity: EmailMessage) -> tuple[str, dict[str, Any]]:
    """The plain-text body and the attached STIX bundle of a bulletin entity."""
    text = entity.get_body(preferencelist=("plain",))
    assert text is not None
    attachment = next(entity.iter_attachments())
    assert attachment.get_content_type() == "application/stix+json"
    filename = attachment.get_filename()
    assert filename is not None and filename.startswith("bulletin-")
    return text.get_content(), json.loads(attachment.get_content())


# --- a bulletin -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    obj: dict[str, Any]
    tlp: TLP


def a_bulletin(tlp: TLP, title: str = "Phishing campaign imitating online banking") -> Any:
    item = Item(
        {
            "type": "incident",
            "spec_version": "2.1",
            "id": "incident--00000000-0000-4000-8000-000000000001",
            "created": "2026-03-09T10:00:00.000Z",
            "modified": "2026-03-10T10:00:00.000Z",
            "name": title,
            "object_marking_refs": [tlp.marking_id],
            "extensions": {
                OUR_EXTENSION_ID: {
                    "extension_type": "property-extension",
                    "reference": "BZ-2026-0001",
                    "category": "fraud:phishing",
                }
            },
        },
        tlp,
    )
    return compose(
        [item],
        definitions=[marking_definition(tlp)],
        recipient="Central Bank of Belize",
        issuer="National CIRT of Belize",
        contact="duty@cirt.bz.example",
        number="BZ-20260310-K7QD2",
        issued=NOW,
        since=NOW,
        bundle_id="bundle--6c8b3c43-4a3b-4f7e-9d52-0d3e8d0e1a11",
    )


def cirt_pgp(keys: Keys) -> OpenPGP:
    return OpenPGP(GpgSettings(keys.cirt_home, keys.cirt))


def send(smtp: SmtpConfig, message: EmailMessage, to: str) -> None:
    with Mailer(smtp, None) as mailer:
        mailer.send(message, sender=smtp.sender, to=to)


# --- tests ------------------------------------------------------------------------------------------


def test_an_encrypted_bulletin_is_signed_encrypted_and_readable_by_the_contact(
    keys: Keys, smtp_server: tuple[Inbox, SmtpConfig]
) -> None:
    inbox, smtp = smtp_server
    bulletin = a_bulletin(TLP.AMBER)
    message = build_message(
        bulletin,
        sender=smtp.sender,
        to="soc@cbb.bz.example",
        how="encrypted",
        pgp=cirt_pgp(keys),
        encrypt_to=keys.contact,
        now=NOW,
    )
    send(smtp, message, "soc@cbb.bz.example")
    [got] = inbox.received
    assert got.sender == "bulletins@cirt.bz.example" and got.recipients == ["soc@cbb.bz.example"]
    assert got.message["Subject"].startswith("[TLP:AMBER] ")
    assert b"Phishing" not in got.raw, "nothing readable travels outside the encryption"
    entity, signer = decrypt(got.raw, keys.contact_home)
    assert signer == keys.cirt
    text, bundle = readable(entity)
    assert text.startswith("TLP:AMBER") and "Phishing campaign imitating online banking" in text
    assert text.rstrip().splitlines()[-2].startswith("TLP:AMBER")
    assert [o["type"] for o in bundle["objects"]] == ["marking-definition", "incident"]


def test_a_green_bulletin_without_a_key_is_signed_and_the_signature_verifies(
    keys: Keys, smtp_server: tuple[Inbox, SmtpConfig]
) -> None:
    inbox, smtp = smtp_server
    message = build_message(
        a_bulletin(TLP.GREEN),
        sender=smtp.sender,
        to="cirt@bel.bz.example",
        how="signed",
        pgp=cirt_pgp(keys),
        encrypt_to=None,
        now=NOW,
    )
    send(smtp, message, "cirt@bel.bz.example")
    [got] = inbox.received
    entity, signer = verify_signed(got.raw, keys.contact_home)
    assert signer == keys.cirt
    text, bundle = readable(entity)
    assert text.startswith("TLP:GREEN") and bundle["objects"][1]["type"] == "incident"


def test_a_changed_byte_breaks_the_signature(keys: Keys, smtp_server: tuple[Inbox, SmtpConfig]) -> None:
    inbox, smtp = smtp_server
    message = build_message(
        a_bulletin(TLP.GREEN),
        sender=smtp.sender,
        to="cirt@bel.bz.example",
        how="signed",
        pgp=cirt_pgp(keys),
        encrypt_to=None,
        now=NOW,
    )
    send(smtp, message, "cirt@bel.bz.example")
    raw = inbox.received[0].raw.replace(b"BZ-2026-0001", b"BZ-2026-0002", 1)
    with pytest.raises(AssertionError, match="signature bad"):
        verify_signed(raw, keys.contact_home)


def test_an_incident_title_cannot_inject_headers_or_recipients(
    keys: Keys, smtp_server: tuple[Inbox, SmtpConfig]
) -> None:
    inbox, smtp = smtp_server
    hostile = "Outage\r\nBcc: attacker@evil.example\r\nSubject: fake\r\n\r\nbody"
    bulletin = a_bulletin(TLP.GREEN, title=hostile)
    hostile_name = compose(
        [],
        definitions=[],
        recipient="Central Bank\r\nBcc: x@evil.example",
        issuer="National CIRT of Belize",
        contact="duty@cirt.bz.example",
        number="BZ-20260310-K7QD2",
        issued=NOW,
        since=NOW,
        bundle_id="bundle--6c8b3c43-4a3b-4f7e-9d52-0d3e8d0e1a11",
    )
    for b in (bulletin, hostile_name):
        message = build_message(
            b,
            sender=smtp.sender,
            to="cirt@bel.bz.example",
            how="signed",
            pgp=cirt_pgp(keys),
            encrypt_to=None,
            now=NOW,
        )
        send(smtp, message, "cirt@bel.bz.example")
    for got in inbox.received:
        assert got.recipients == ["cirt@bel.bz.example"]
        headers = got.message
        assert headers.get_all("Bcc") is None and len(headers.get_all("Subject", [])) == 1
        assert "\r" not in headers["Subject"] and "\n" not in headers["Subject"]
        assert b"\r\nBcc:" not in got.raw.split(b"\r\n\r\n", 1)[0]
    entity, _ = verify_signed(inbox.received[0].raw, keys.contact_home)
    text, _ = readable(entity)
    assert "Bcc: attacker@evil.example" in text, "the title stays in the body, as text"


def test_protection_follows_the_key_the_level_and_plain_mail() -> None:
    with_key = Contact(
        name="Maria Chan", email="soc@cbb.bz.example", role="sector-cirt", pgp_fingerprint="A" * 40
    )
    without = Contact(name="Jorge Castillo", email="cirt@bel.bz.example", role="sector-cirt")
    org = Organisation(
        id="bel", name="BEL", identity="identity--7b614f76-66fb-5eb2-b6d2-4c7d5bb317e3", sector="utilities"
    )
    lenient = dataclasses.replace(org, plain_mail=True)
    assert protection_for(with_key, org, TLP.RED).how == "encrypted"
    assert protection_for(without, org, TLP.GREEN).how == "signed"
    refused = protection_for(without, org, TLP.AMBER)
    assert refused.how is None and "plain_mail" in refused.reason
    assert protection_for(without, org, TLP.AMBER_STRICT).how is None
    assert protection_for(without, lenient, TLP.AMBER).how == "signed"


def test_a_server_that_is_down_is_a_clear_remote_error(keys: Keys) -> None:
    smtp = SmtpConfig(host="127.0.0.1", port=free_port(), sender="bulletins@cirt.bz.example")
    message = build_message(
        a_bulletin(TLP.GREEN),
        sender=smtp.sender,
        to="cirt@bel.bz.example",
        how="signed",
        pgp=cirt_pgp(keys),
        encrypt_to=None,
        now=NOW,
    )
    with pytest.raises(RemoteError, match=f"SMTP server 127.0.0.1:{smtp.port}"):
        send(smtp, message, "cirt@bel.bz.example")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_credentials_are_used_and_a_wrong_or_missing_password_is_a_clear_error(keys: Keys) -> None:
    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"cirt",
            b"s3cret",
        )
        return AuthResult(success=ok, handled=False)

    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
        auth_exclude_mechanism=["LOGIN"],
    )
    controller.start()
    try:
        smtp = SmtpConfig(host="127.0.0.1", port=port, username="cirt", sender="bulletins@cirt.bz.example")
        message = build_message(
            a_bulletin(TLP.GREEN),
            sender=smtp.sender,
            to="cirt@bel.bz.example",
            how="signed",
            pgp=cirt_pgp(keys),
            encrypt_to=None,
            now=NOW,
        )
        with Mailer(smtp, "s3cret") as mailer:
            mailer.send(message, sender=smtp.sender, to="cirt@bel.bz.example")
        assert len(inbox.received) == 1
        with pytest.raises(RemoteError, match="credentials invalid"), Mailer(smtp, "wrong") as m:
            m.send(message, sender=smtp.sender, to="cirt@bel.bz.example")
        with pytest.raises(RemoteError, match="CIRT_SMTP_PASSWORD"), Mailer(smtp, None) as m:
            m.connect()
        assert len(inbox.received) == 1
    finally:
        controller.stop()


def test_starttls_verifies_the_server_certificate(
    keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = loopback_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        smtp = SmtpConfig(host="127.0.0.1", port=port, starttls=True, sender="bulletins@cirt.bz.example")
        message = build_message(
            a_bulletin(TLP.GREEN),
            sender=smtp.sender,
            to="cirt@bel.bz.example",
            how="signed",
            pgp=cirt_pgp(keys),
            encrypt_to=None,
            now=NOW,
        )
        with pytest.raises(RemoteError, match="CERTIFICATE_VERIFY_FAILED"), Mailer(smtp, None) as m:
            m.connect()
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        with Mailer(smtp, None) as mailer:
            mailer.send(message, sender=smtp.sender, to="cirt@bel.bz.example")
        assert [r.recipients for r in inbox.received] == [["cirt@bel.bz.example"]]
    finally:
        controller.stop()


# --- end to end: ws.bulletins and cirt bulletin, through the gate and the disclosure log -----------

CONTACT_WITH_KEY = "soc@cbb.bz.example"
RED_HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
HOSTILE_TITLE = "Grid telemetry outage\r\nBcc: attacker@evil.example"


@dataclass(frozen=True)
class Scene:
    home: Path
    inbox: Inbox
    keys: Keys
    incident: str


@pytest.fixture
def scene(
    home: Path, keys: Keys, smtp_server: tuple[Inbox, SmtpConfig], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scene]:
    """cbb: an AMBER phishing incident, an AMBER and a GREEN indicator, a RED hash named for
    soc@cbb (the only contact with a key); bel: a GREEN incident with a hostile title."""
    inbox, smtp = smtp_server
    sectors = home / "sectors.yaml"
    sectors.write_text(
        sectors.read_text().replace(
            f"        email: {CONTACT_WITH_KEY}\n",
            f"        email: {CONTACT_WITH_KEY}\n        pgp_fingerprint: {keys.contact}\n",
            1,
        )
    )
    config = home / "config.toml"
    config.write_text(
        config.read_text()
        .replace("port = 25", f"port = {smtp.port}")
        .replace('sender = "cirt@localhost"', f'sender = "{smtp.sender}"')
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
            description="Look-alike login page harvesting one-time codes.",
        )
        ws.indicators.add(
            form="domain", value="centralbank-online-login.example", incident=phishing.reference
        )
        ws.indicators.add(form="ip", value="203.0.113.45", incident=phishing.reference, tlp="green")
        red = ws.indicators.add(form="sha256", value=RED_HASH, tlp="red")
        ws.store.add_audience(red["id"], "contact", [CONTACT_WITH_KEY])
        ws.incidents.open(
            title=HOSTILE_TITLE, category="outage", severity="low", organisations=["bel"], tlp="green"
        )
    yield Scene(home, inbox, keys, phishing.reference)


def log_of(home: Path) -> list[Any]:
    with Workspace.open(home) as ws:
        return ws.audit.entries()


def test_send_encrypts_to_the_keyed_contact_refuses_the_other_and_logs_only_what_went(scene: Scene) -> None:
    with Workspace.open(scene.home) as ws:
        outcomes = {o.contact: o for o in ws.bulletins.send("cbb")}
    keyed, plain = outcomes[CONTACT_WITH_KEY], outcomes["supervision@cbb.bz.example"]
    assert (keyed.status, keyed.recipient, keyed.tlp) == ("sent", f"contact:{CONTACT_WITH_KEY}", "red")
    assert plain.status == "refused" and "no pgp_fingerprint" in plain.detail
    [got] = scene.inbox.received
    assert got.recipients == [CONTACT_WITH_KEY]
    assert got.message["Subject"].startswith("[TLP:RED] ")
    entity, signer = decrypt(got.raw, scene.keys.contact_home)
    assert signer == scene.keys.cirt
    text, bundle = readable(entity)
    assert RED_HASH in text and "Phishing campaign imitating online banking" in text
    assert "TLP:RED: For your eyes only" in text
    assert any(o.get("pattern", "").find(RED_HASH) > 0 for o in bundle["objects"])
    [entry] = log_of(scene.home)
    assert (entry.recipient, entry.channel, entry.tlp) == (
        f"contact:{CONTACT_WITH_KEY}",
        "email",
        int(TLP.RED),
    )
    assert {i for i, _, _ in entry.objects} == {
        o["id"]
        for o in bundle["objects"]
        if o["type"] not in ("marking-definition", "extension-definition", "identity")
    }


def test_with_plain_mail_the_other_contact_gets_amber_signed_but_never_red(scene: Scene) -> None:
    sectors = scene.home / "sectors.yaml"
    sectors.write_text(sectors.read_text().replace("  - id: cbb\n", "  - id: cbb\n    plain_mail: true\n", 1))

    with Workspace.open(scene.home) as ws:
        outcomes = {o.contact: o for o in ws.bulletins.send("cbb")}
    assert outcomes["supervision@cbb.bz.example"].status == "sent"
    assert outcomes["supervision@cbb.bz.example"].recipient == "org:cbb"
    plain = next(r for r in scene.inbox.received if r.recipients == ["supervision@cbb.bz.example"])
    entity, _ = verify_signed(plain.raw, scene.keys.contact_home)
    text, _ = readable(entity)
    assert text.startswith("TLP:AMBER") and "Phishing campaign imitating online banking" in text
    assert RED_HASH not in text and RED_HASH.encode() not in plain.raw
    # the log names each contact it went to, the organisation's bulletin included
    assert [e.recipient for e in log_of(scene.home)] == [
        f"contact:{CONTACT_WITH_KEY}",
        "contact:supervision@cbb.bz.example",
    ]


def test_bel_gets_only_green_content_signed_and_no_header_from_a_title(scene: Scene) -> None:
    with Workspace.open(scene.home) as ws:
        [outcome] = ws.bulletins.send("bel")
    assert (outcome.status, outcome.recipient, outcome.tlp) == ("sent", "org:bel", "green")
    [got] = scene.inbox.received
    assert got.recipients == ["cirt@bel.bz.example"]
    assert got.message.get_all("Bcc") is None and "attacker" not in got.message["Subject"]
    entity, _ = verify_signed(got.raw, scene.keys.contact_home)
    text, bundle = readable(entity)
    assert "203[.]0[.]113[.]45" in text and "Grid telemetry outage Bcc: attacker@evil.example" in text
    raw = got.raw.decode("ascii", "replace") + json.dumps(bundle)
    for secret in ("Phishing campaign", "centralbank-online-login", RED_HASH, scene.incident):
        assert secret not in raw and secret not in text
    # The bank's id as a word: random hex (ids, signatures, boundaries) may contain the letters.
    assert not re.search(r"\bcbb\b", raw) and not re.search(r"\bcbb\b", text)


def test_dry_run_sends_and_logs_nothing(scene: Scene, cli: Any) -> None:
    result = cli("bulletin", "send", "--for", "cbb", "--dry-run", "--json")
    assert result.code == 0, result.err
    statuses = {o["contact"]: o["status"] for o in result.json()}
    assert statuses == {CONTACT_WITH_KEY: "would-send", "supervision@cbb.bz.example": "refused"}
    assert scene.inbox.received == [] and log_of(scene.home) == []


def test_send_exits_1_naming_the_refused_contact(scene: Scene, cli: Any) -> None:
    result = cli("bulletin", "send", "--for", "cbb")
    assert result.code == 1
    assert result.err.startswith("cirt: bulletin not sent to supervision@cbb.bz.example: ")
    assert result.err.count("\n") == 1
    assert [r.recipients for r in scene.inbox.received] == [[CONTACT_WITH_KEY]]


def test_build_writes_the_bulletin_for_an_organisation_and_logs_it(
    scene: Scene, cli: Any, tmp_path: Path
) -> None:
    result = cli("bulletin", "build", "--for", "cbb", "--format", "md")
    assert result.code == 0, result.err
    assert result.out.startswith("**TLP:AMBER**") and RED_HASH not in result.out
    assert "Phishing campaign imitating online banking" in result.out
    bel = cli(
        "bulletin", "build", "--for", "bel", "--format", "stix", "-o", str(tmp_path / "bel.json"), "--json"
    )
    assert bel.code == 0 and bel.json()["tlp"] == "green"
    bundle = json.loads((tmp_path / "bel.json").read_text())
    assert "Phishing" not in json.dumps(bundle)
    # on the terminal it is a preview (not logged); written to a file, a logged release
    assert [(e.recipient, e.channel, e.delivery) for e in log_of(scene.home)] == [
        ("org:bel", "bulletin", "file")
    ]


def test_a_bulletin_for_an_unknown_organisation_is_a_clear_error(cli: Any) -> None:
    result = cli("bulletin", "build", "--for", "nowhere")
    assert result.code == 1 and "'nowhere' is not an organisation, partner" in result.err
    bad = cli("bulletin", "build", "--for", "cbb", "--since", "forever")
    assert bad.code == 2 and "not a period" in bad.err  # a usage error


def test_the_demo_chapter_shows_bel_less_than_the_central_bank_and_a_verified_log(home: Path) -> None:
    said: list[str] = []
    with Workspace.open(home) as ws:
        run_chapter(ws, said.append)
        assert ws.audit.verify().ok
    cbb = next(s for s in said if s.startswith("**TLP:AMBER**"))
    bel = next(s for s in said if s.startswith("**TLP:GREEN**"))
    assert "Phishing campaign imitating Central Bank online banking" in cbb
    assert "Phishing campaign" not in bel and "centralbank" not in bel
    assert "203\\[.\\]0\\[.\\]113\\[.\\]45" in bel, "defanged in the Markdown"
    assert said[-1].startswith("$ cirt audit verify -> disclosure log intact: 2 entries")
