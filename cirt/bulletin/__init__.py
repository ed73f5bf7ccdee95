"""Bulletins to sector contacts: composed from what the gate released, rendered, delivered.

``ws.bulletins.build(org)`` and ``ws.bulletins.send(org)`` offer the period's incidents and
indicators (with what is attached to them) to the sharing gate for each recipient, and compose
the bulletin from the released objects only.  What is written to a file or sent is composed from
a ``Disclosure`` (``ws.sharing.release``: logged before it is returned); ``preview`` shows the
same bulletin on the terminal from the gate's unlogged verdict, and goes nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cirt.bulletin.message import build_message, content_key, protection_for, stable_message_id
from cirt.bulletin.render import FORMATS, Bulletin, bulletin_number, compose, render
from cirt.errors import CirtError, InvalidValue
from cirt.openpgp import OpenPGP, gpg_settings
from cirt.smtp import Mailer, Outbox
from cirt.stixtime import format_ts_micro
from cirt.store import version_of
from cirt.tlp import TLP

if TYPE_CHECKING:
    from cirt.community import Contact
    from cirt.context import Context
    from cirt.gate import Release
    from cirt.sharing import Disclosure, Sharing
    from cirt.store import StoredObject
    from cirt.tasks import TaskService

# What a bulletin reports: incidents and indicators, with their notes, links and courses of action.
CONTENT_TYPES = ("incident", "indicator", "relationship", "note", "course-of-action")
_PERIOD = re.compile(r"^(\d+)([hdw])$")


def parse_period(text: str) -> timedelta:
    """``24h``, ``7d``, ``2w``: how far back a bulletin looks."""
    match = _PERIOD.match(text.strip().lower())
    if not match or int(match[1]) == 0:
        raise InvalidValue(f"'{text}' is not a period (use e.g. 24h, 7d or 2w)")
    unit = {"h": "hours", "d": "days", "w": "weeks"}[match[2]]
    return timedelta(**{unit: int(match[1])})


@dataclass(frozen=True)
class Built:
    bulletin: Bulletin
    text: str
    fmt: str


@dataclass(frozen=True)
class Outcome:
    """What happened (or would happen) for one contact."""

    contact: str
    recipient: str
    status: str  # sent | already-sent | failed | would-send | refused | nothing-new
    detail: str
    tlp: str | None = None
    number: str | None = None
    subject: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "contact": self.contact,
            "recipient": self.recipient,
            "status": self.status,
            "detail": self.detail,
            "tlp": self.tlp,
            "number": self.number,
            "subject": self.subject,
        }


class DeliveryRefused(CirtError):
    """Some contacts could not be sent the bulletin safely; the others were."""

    def __init__(self, refused: list[Outcome]) -> None:
        self.refused = refused
        first = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        super().__init__(f"bulletin not sent to {first.contact}: {first.detail}{more}")


class Bulletins:
    """``ws.bulletins``: bulletins for one organisation, to a file or by e-mail.

    ``sharing`` decides and logs what each recipient gets; ``tasks`` knows the playbooks (each
    incident's advice) and the CIRT's time zone."""

    def __init__(self, context: Context, *, sharing: Sharing, tasks: TaskService) -> None:
        self.context = context
        self.sharing = sharing
        self.tasks = tasks

    def candidates(self, since: datetime) -> list[StoredObject]:
        """The newest versions changed since ``since``, with the incidents they belong to and
        everything attached to those incidents (one hop): what the gate is offered."""
        store = self.context.store
        fresh = {s.id: s for s in store.latest_objects(types=CONTENT_TYPES, since=format_ts_micro(since))}
        incidents = {s.id for s in fresh.values() if s.type == "incident"}
        for stored in fresh.values():
            if stored.type != "incident":
                incidents.update(store.incidents_linking(stored.id))
        wanted = set(incidents)
        for incident_id in incidents:
            wanted.update(store.linked(incident_id))
        more = store.latest_many(sorted(wanted - set(fresh)))
        objects = [s for s in [*fresh.values(), *more] if s.type in CONTENT_TYPES]
        return sorted(objects, key=lambda s: s.seq)

    def _since(self, period: timedelta | datetime) -> datetime:
        return period if isinstance(period, datetime) else self.context.clock() - period

    def compose(
        self,
        release: Disclosure,
        *,
        recipient: str,
        since: datetime,
        number: str | None = None,
        kind: str = "security bulletin",
    ) -> Bulletin:
        """The bulletin of one disclosure: released objects and their definitions, nothing else;
        times in the CIRT's zone, advice from each incident's playbook."""
        return self._compose(release.verdict, recipient=recipient, since=since, number=number, kind=kind)

    def _compose(
        self,
        release: Release,
        *,
        recipient: str,
        since: datetime,
        number: str | None = None,
        kind: str = "security bulletin",
    ) -> Bulletin:
        national = self.context.community.national
        issued = self.context.clock()
        duty = national.contacts[0].email if national.contacts else national.name
        advice = {name: p.spec.summary for name, p in self.tasks.library.playbooks.items()}
        return compose(
            release.released,
            definitions=release.definitions,
            recipient=recipient,
            issuer=national.name,
            contact=duty,
            number=number or bulletin_number(self.context.config.reference_prefix, issued),
            issued=issued,
            since=since,
            bundle_id=self.context.ids("bundle"),
            zone=self.tasks.zone,
            advice=advice,
            kind=kind,
        )

    def build(self, org: str, *, period: timedelta | datetime = timedelta(days=7), fmt: str = "md") -> Built:
        """The bulletin for an organisation or a partner as a whole (never RED), or the public
        TLP:CLEAR advisory (``public``), to be written to a file: logged as channel 'bulletin'
        before it is returned."""
        return self._build(org, period, fmt, preview=False)

    def preview(
        self, org: str, *, period: timedelta | datetime = timedelta(days=7), fmt: str = "md"
    ) -> Built:
        """The same bulletin, for the terminal only: the gate's verdict, not logged."""
        return self._build(org, period, fmt, preview=True)

    def _build(self, org: str, period: timedelta | datetime, fmt: str, *, preview: bool) -> Built:
        if fmt not in FORMATS:
            raise InvalidValue(f"'{fmt}' is not a bulletin format (use one of: {', '.join(FORMATS)})")
        to = self.sharing.recipient(org, "bulletin")
        if to.kind == "contact":
            raise InvalidValue(f"'{org}' is a contact: build for its organisation or partner")
        community = self.context.community
        name = "the public" if to.kind == "public" else community.party(to.id).name
        since = self._since(period)
        objects = self.candidates(since)
        kind = "public advisory" if to.kind == "public" else "security bulletin"
        if preview:
            bulletin = self._compose(
                self.sharing.decide(objects, to, "bulletin"), recipient=name, since=since, kind=kind
            )
        else:
            bulletin = self.compose(
                self.sharing.release(objects, to, "bulletin", delivery="file"),
                recipient=name,
                since=since,
                kind=kind,
            )
        return Built(bulletin, render(bulletin, fmt), fmt)

    def send(
        self,
        org: str,
        *,
        period: timedelta | datetime = timedelta(days=7),
        dry_run: bool = False,
        objects: Sequence[StoredObject] | None = None,
    ) -> list[Outcome]:
        """One e-mail per contact of ``org``; RED only to the contacts named for it.
        ``objects`` are offered instead of the period's (routed notifications, issue 16).

        What a contact would receive is worked out first without logging, so that a message
        that must be refused (AMBER or above, no key, no plain mail) is never recorded as sent;
        what is sent is then released (and logged) through ``sharing`` and sent at once.
        """
        community = self.context.community
        organisation = community.organisation(org)
        since = self._since(period)
        objects = list(objects) if objects is not None else self.candidates(since)
        named = self._named_for_red([o.id for o in objects])
        outcomes: list[Outcome] = []
        numbers: dict[str, str] = {}
        pgp = None
        sender = self.context.config.smtp.sender
        with Mailer(self.context.config.smtp, self.context.secret("smtp_password")) as mailer:
            outbox = Outbox(self.context.store, mailer, sender=sender, clock=self.context.clock)
            for contact in organisation.contacts:
                # Decided, logged and queued per contact, so the disclosure log names who got
                # it; a contact's seat is its organisation's plus its own name, which only RED
                # asks for.  Contacts not named for RED share their organisation's bulletin.
                addressed = f"contact:{contact.email}" if contact.email in named else f"org:{organisation.id}"
                recipient = f"contact:{contact.email}"
                preview = self.sharing.decide(objects, recipient, "email")
                if not preview.released:
                    outcomes.append(
                        Outcome(
                            contact.email,
                            addressed,
                            "nothing-new",
                            "nothing released to this recipient in the period",
                        )
                    )
                    continue
                level = max(r.tlp for r in preview.released)
                protection = protection_for(contact, organisation, level)
                if protection.how is None:
                    outcomes.append(
                        Outcome(contact.email, addressed, "refused", protection.reason, level.slug)
                    )
                    continue
                if dry_run:
                    outcomes.append(
                        Outcome(contact.email, addressed, "would-send", protection.reason, level.slug)
                    )
                    continue
                if pgp is None:
                    pgp = OpenPGP(
                        gpg_settings(self.context.config.gpg, self.context.secret("gpg_passphrase"))
                    )
                    _ = pgp.fingerprint  # a missing key stops the run before anything is logged
                    mailer.connect()  # so does an unreachable server
                # The outbox (cirt.smtp): content already queued for this contact
                # by an earlier run is not released again, only sent if it has not gone yet.
                key = content_key(
                    recipient, [(r.obj["id"], version_of(dict(r.obj))) for r in preview.released]
                )
                queued = outbox.earlier(contact.email, key)
                resumed = queued is not None
                if queued is None:
                    release = self.sharing.release(objects, recipient, "email", delivery="sent")
                    number = numbers.setdefault(addressed, self._number())
                    bulletin = self.compose(
                        release,
                        recipient=_addressee(contact, organisation.name, addressed),
                        since=since,
                        number=number,
                    )
                    message = build_message(
                        bulletin,
                        sender=sender,
                        to=contact.email,
                        how=protection.how,
                        pgp=pgp,
                        encrypt_to=contact.pgp_fingerprint,
                        now=self.context.clock(),
                        message_id=stable_message_id(key, contact.email, sender),
                    )
                    queued = outbox.queue(
                        message,
                        contact=contact.email,
                        organisation=organisation.id,
                        recipient=recipient,
                        key=key,
                        number=number,
                        tlp=bulletin.tlp,
                    )
                delivery = outbox.deliver(queued, resumed=resumed)
                outcomes.append(
                    Outcome(
                        contact.email,
                        addressed,
                        delivery.state,
                        f"{protection.reason}; {delivery.detail}",
                        TLP(queued.tlp).slug,
                        queued.number,
                    )
                )
        return outcomes

    def _number(self) -> str:
        return bulletin_number(self.context.config.reference_prefix, self.context.clock())

    def _named_for_red(self, object_ids: list[str]) -> set[str]:
        """Contacts named in the audience of any offered object: they get their own release."""
        audiences = self.context.store.audiences(object_ids)
        return {email for audience in audiences.values() for email in audience.get("contact", ())}


def _addressee(contact: Contact, organisation: str, recipient: str) -> str:
    if recipient.startswith("contact:"):
        return f"{contact.name}, {organisation} (named recipient)"
    return organisation
