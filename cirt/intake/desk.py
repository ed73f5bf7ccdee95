"""``ws.intake``: reports in (web, e-mail), their status for the reporter, and triage.

A report is stored whole or not at all: its attachments are written to temporary files first,
and moved into ``<workspace>/intake/files/<reference>/<n>/<name>`` only inside the transaction that stores
the report, so a failure anywhere leaves neither rows nor files behind.  The reporter's status
link carries a random token of which only the SHA-256 is kept.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cirt.errors import CirtError, ConflictError, InvalidValue, NotFound
from cirt.incidents import Reporter, parse_category
from cirt.indicator_desk import build_pattern
from cirt.ingest import ingest
from cirt.intake.reports import CATEGORIES, TITLES, Attachment, Submission
from cirt.routing import AssetIndex
from cirt.stixtime import format_ts, parse_ts
from cirt.store import Provenance
from cirt.store.intake import ReportRow

if TYPE_CHECKING:
    from cirt.context import Context
    from cirt.evidence import EvidenceLocker
    from cirt.incident_desk import IncidentDesk

_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no look-alikes (0/O, 1/I/L, U/V)
INCIDENT_CHANNELS = {"web": "web", "email": "e-mail"}  # intake's channel -> the incident's


class RateLimited(CirtError):
    """Too many submissions from one address in the window."""


@dataclass(frozen=True)
class Receipt:
    """What the reporter gets back: the reference to quote and the status link's token."""

    reference: str
    token: str
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "duplicate": self.duplicate}


@dataclass(frozen=True)
class Report:
    """A stored report with its attachments and candidate indicators (for analysts only)."""

    row: ReportRow
    attachments: tuple[Attachment, ...]
    indicators: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.row.as_dict(),
            "attachments": [a.as_dict() for a in self.attachments],
            "indicators": [{"kind": k, "value": v} for k, v in self.indicators],
        }


@dataclass(frozen=True)
class Accepted:
    reference: str
    incident: str
    created: bool
    indicators: int
    evidence: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "report": self.reference,
            "incident": self.incident,
            "new_incident": self.created,
            "indicators": self.indicators,
            "evidence": self.evidence,
        }


class IntakeDesk:
    """Reports in and their triage: an accepted report opens (or joins) an incident through
    ``incidents``, its attachments become ``evidence``, its candidates go through the one door
    in (``cirt.ingest``)."""

    def __init__(self, context: Context, *, incidents: IncidentDesk, evidence: EvidenceLocker) -> None:
        self.context = context
        self.store = context.store
        self.settings = context.config.intake
        self.incidents = incidents
        self.evidence = evidence

    # --- places and keys --------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return self.context.home / "intake"

    @cached_property
    def _key(self) -> bytes:
        return self.secret_key()

    def secret_key(self) -> bytes:
        """The key of CSRF tokens and address hashes: ``CIRT_INTAKE_SECRET`` / secrets.toml
        ``intake_secret``, else a random key made once in ``<workspace>/intake/secret.key``."""
        configured = self.context.secret("intake_secret")
        if configured:
            return configured.encode()
        path = self.folder / "secret.key"
        if not path.exists():
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return path.read_bytes()
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_hex(32).encode())
        return path.read_bytes()

    def address_key(self, address: str) -> str:
        """An address as the rate limiter keeps it: a keyed hash, never the address."""
        return hmac.new(self._key, address.encode(), hashlib.sha256).hexdigest()[:32]

    # --- reports in -------------------------------------------------------------------------

    def admit(self, address: str) -> None:
        """Count one submission attempt from ``address``; RateLimited past the limit."""
        now = self.context.clock()
        window = timedelta(minutes=self.settings.rate_window_minutes)
        key = self.address_key(address)
        with self.store.transaction():
            if self.store.intake_hits(key, format_ts(now - window)) >= self.settings.rate_limit:
                raise RateLimited("too many reports from this address; try again later")
            self.store.add_intake_hit(key, format_ts(now), forget_before=format_ts(now - window))

    def submit(self, sub: Submission) -> Receipt:
        """Store a report, its attachments and candidates together; a message seen before (same
        Message-ID) is not stored twice."""
        store = self.store
        if sub.message_id:
            seen = store.report_by_message_id(sub.message_id)
            if seen is not None:
                return Receipt(seen.reference, "", duplicate=True)
        reference = "R-" + "".join(secrets.choice(_ALPHABET) for _ in range(10))
        token = secrets.token_urlsafe(32)
        target = self.folder / "files" / reference
        staged: list[tuple[Path, Path]] = []
        try:
            for position, (attachment, data) in enumerate(sub.files, 1):
                temp = self.folder / "files" / f".{reference}-{position}.part"
                temp.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                with open(temp, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                staged.append((temp, target / str(position) / attachment.name))
            values = {
                "reference": reference,
                "token_hash": _token_hash(token),
                "channel": sub.channel,
                "category": sub.category,
                "summary": sub.summary,
                "what": sub.what,
                "occurred": sub.occurred or None,
                "reporter_name": sub.reporter_name or None,
                "reporter_contact": sub.reporter_contact or None,
                "reporter_kind": sub.reporter_kind,
                "language": sub.language,
                "received": format_ts(self.context.clock()),
                "message_id": sub.message_id,
                "state": "new",
            }
            attachments = [(a.name, a.media_type, a.size, a.sha256) for a, _ in sub.files]
            with store.transaction():
                store.insert_report(values, attachments, sub.indicators)
                for temp, final in staged:
                    final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    os.replace(temp, final)
        except BaseException:
            for temp, _ in staged:
                temp.unlink(missing_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            raise
        return Receipt(reference, token)

    # --- what the reporter may see ----------------------------------------------------------

    def status(self, token: str) -> ReportRow:
        """The report a status token belongs to, else NotFound (the same for any wrong token)."""
        row = self.store.report_by_token(_token_hash(token)) if token else None
        if row is None:
            raise NotFound("no report with this link")
        return row

    # --- triage -----------------------------------------------------------------------------

    def list(self, state: str | None = None) -> builtins.list[ReportRow]:
        if state is not None and state not in ("new", "accepted", "rejected"):
            raise InvalidValue(f"'{state}' is not a report state (use new, accepted or rejected)")
        return self.store.reports(state)

    def get(self, reference: str) -> Report:
        row = self.store.report_by_reference(reference.strip().upper())
        if row is None:
            raise NotFound(f"no report '{reference}' (see 'cirt triage list')")
        return Report(
            row,
            tuple(Attachment(*a) for a in self.store.report_attachments(row.id)),
            tuple(self.store.report_indicators(row.id)),
        )

    def attachment_paths(self, report: Report) -> builtins.list[Path]:
        folder = self.folder / "files" / report.row.reference
        return [folder / str(i) / a.name for i, a in enumerate(report.attachments, 1)]

    def reject(self, reference: str, reason: str) -> ReportRow:
        text = reason.strip()
        if not text:
            raise InvalidValue("a rejection needs a reason (--reason)")
        report = self.get(reference)
        with self.store.transaction():
            if not self.store.decide_report(
                report.row.id,
                state="rejected",
                at=format_ts(self.context.clock()),
                by=self.context.analyst,
                reason=text,
                incident=None,
            ):
                raise ConflictError(f"{report.row.reference} was already {report.row.state}")
        return self.get(reference).row

    def accept(
        self,
        reference: str,
        *,
        into: str | None = None,
        severity: str = "medium",
        organisations: builtins.list[str] | None = None,
        tlp: str | None = None,
        title: str | None = None,
        category: str | None = None,
        with_indicators: bool = True,
    ) -> Accepted:
        """Open a new incident from the report (its category's playbook applies; reporter,
        channel and reported-at filled in, the report's text as the internal description), or
        join an existing one with ``into``; the attachments become evidence, the candidate indicators
        STIX indicators through the one ingest door (so they are validated and routed).
        ``category`` (a report category or an RSIT one) overrides what the reporter chose."""
        report = self.get(reference)
        row = report.row
        if row.state != "new":
            raise ConflictError(f"{row.reference} was already {row.state}")
        paths = self.attachment_paths(report)
        for path in paths:
            if not path.is_file():
                raise NotFound(f"{row.reference}: attachment {path.name} is missing from {path.parent}")
        desk = self.incidents
        with self.store.transaction():
            if into:
                incident = desk.get(into)
                desk.note(
                    incident.reference,
                    f"Report {row.reference} ({row.channel}, "
                    f"{row.category}) joined this incident: {row.summary}",
                    tlp="red",
                )
            else:
                concerned = organisations if organisations is not None else self._concerned(report)
                if not concerned:
                    raise InvalidValue(
                        f"{row.reference} names no organisation's declared assets: "
                        "say which organisation is affected (--org)"
                    )
                chosen = CATEGORIES.get(category or row.category) or parse_category(category or "")
                reporter = Reporter(
                    name=row.reporter_name or f"anonymous {row.reporter_kind}",
                    contact=row.reporter_contact or "",
                    kind=row.reporter_kind,
                )
                default_title = (
                    f"{TITLES[row.category]} reported by a {row.reporter_kind} "
                    f"({'web form' if row.channel == 'web' else 'e-mail'})"
                )
                incident = desk.open(
                    title=title or default_title,
                    category=chosen,
                    severity=severity,
                    organisations=concerned,
                    tlp=tlp,
                    description=row.what,
                    reported_at=min(parse_ts(row.received), self.context.clock()),
                    reporter=reporter,
                    channel=INCIDENT_CHANNELS[row.channel],
                )
            evidence = self._evidence(incident.reference, row, paths)
            indicators = self._indicators(incident.reference, report) if with_indicators else 0
            if not self.store.decide_report(
                row.id,
                state="accepted",
                at=format_ts(self.context.clock()),
                by=self.context.analyst,
                reason=None,
                incident=incident.reference,
            ):
                raise ConflictError(f"{row.reference} was decided by someone else meanwhile")
        return Accepted(row.reference, incident.reference, into is None, indicators, evidence)

    def _concerned(self, report: Report) -> builtins.list[str]:
        """Organisations whose declared assets the report's candidates fall in."""
        organisations = self.context.community.organisations
        found: dict[str, None] = {}
        for kind, value in report.indicators:
            sco = {
                "url": "url",
                "domain": "domain-name",
                "email": "email-addr",
                "ip": "ipv6-addr" if ":" in value else "ipv4-addr",
            }.get(kind)
            for match in self._assets.route({"type": sco, "value": value}):
                if match.party in organisations:
                    found.setdefault(match.party, None)
        return list(found)

    @cached_property
    def _assets(self) -> AssetIndex:
        return AssetIndex.of(self.context.community)

    def _evidence(self, incident: str, row: ReportRow, paths: builtins.list[Path]) -> int:
        held = {item.sha256 for item in self.evidence.list(incident)}
        added = 0
        for path in paths:
            if hashlib.sha256(path.read_bytes()).hexdigest() in held:
                continue
            self.evidence.add(
                incident,
                path,
                note=f"attached to report {row.reference} ({row.channel})",
                collected_by=f"intake ({row.channel})",
            )
            added += 1
        return added

    def _indicators(self, incident_ref: str, report: Report) -> int:
        """Candidates as STIX indicators with a relationship to the incident, through
        ``cirt.ingest`` (validation, provenance, routing), then linked to the incident."""
        incident = self.incidents.get(incident_ref)
        level = incident.tlp(self.context.community.default_tlp)
        stamp = format_ts(self.context.clock())
        objects: list[dict[str, Any]] = []
        for kind, value in report.indicators:
            try:
                pattern = build_pattern(kind, value)
            except InvalidValue:
                continue
            indicator = {
                "type": "indicator",
                "spec_version": "2.1",
                "id": self.context.ids("indicator"),
                "created": stamp,
                "modified": stamp,
                "name": value,
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": stamp,
                "object_marking_refs": [level.marking_id],
            }
            objects.append(indicator)
            objects.append(
                {
                    "type": "relationship",
                    "spec_version": "2.1",
                    "id": self.context.ids("relationship"),
                    "created": stamp,
                    "modified": stamp,
                    "relationship_type": "related-to",
                    "source_ref": indicator["id"],
                    "target_ref": incident.id,
                    "object_marking_refs": [level.marking_id],
                }
            )
        if not objects:
            return 0
        summary = ingest(self.context, objects, Provenance("intake", report.row.reference))
        if summary.rejected:
            first = summary.rejected[0]
            raise InvalidValue(
                f"{report.row.reference}: candidate refused by validation: {first[0]}: {first[1]}"
            )
        audience = self.store.audience_of(incident.id).get("org", ())
        for obj in objects:
            self.store.link(incident.id, obj["id"])
            if audience:
                self.store.add_audience(obj["id"], "org", list(audience))
        return len(objects) // 2


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
