"""``ws.routes``: routed notifications over the store, and sending them as bulletins.

Every inbound path routes the objects it has just stored (``cirt.ingest`` through
``SQLStore.route_objects``: ``cirt import``, TAXII pull and inbox, MISP, triage of a report):
what falls in an organisation's declared assets (or a partner's constituency) becomes a pending
notification for that party, once per value.  Sending offers the carrying objects to the sharing
gate for that party, at the objects' own TLP: what is released (and logged) becomes a bulletin;
what the gate withholds stays pending with the reason, so an analyst can widen the audience
(``cirt share add``) or let it be.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cirt.bulletin.render import FORMATS, render
from cirt.errors import CirtError, InvalidValue
from cirt.gate import Allowed
from cirt.routing import AssetIndex
from cirt.stixtime import format_ts, parse_ts
from cirt.store.routes import RouteRow

if TYPE_CHECKING:
    from cirt.bulletin import Bulletins
    from cirt.context import Context
    from cirt.gate import Release
    from cirt.sharing import Sharing


@dataclass(frozen=True)
class RouteView:
    """A routed notification with the gate's present verdict for its party (nothing recorded)."""

    row: RouteRow
    allowed: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.row.as_dict(), "releasable": self.allowed, "gate": self.reason}


@dataclass(frozen=True)
class Sent:
    """One party's bulletin of routed notifications: where it was written, what stayed back."""

    party: str
    number: str
    path: str
    values: tuple[str, ...]
    withheld: tuple[tuple[str, str], ...]  # (value, reason)
    tlp: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "bulletin": self.number,
            "path": self.path,
            "values": list(self.values),
            "tlp": self.tlp,
            "withheld": [{"value": v, "reason": r} for v, r in self.withheld],
        }


class RouteDesk:
    """Routed notifications: ``sharing`` decides what each party may be sent, ``bulletins``
    compose (and e-mail) what it releases."""

    def __init__(self, context: Context, *, sharing: Sharing, bulletins: Bulletins) -> None:
        self.context = context
        self.store = context.store
        self.sharing = sharing
        self.bulletins = bulletins

    @cached_property
    def index(self) -> AssetIndex:
        return AssetIndex.of(self.context.community)

    def _recipient(self, party: str) -> str:
        community = self.context.community
        if party in community.partners:
            return f"partner:{party}"
        return f"org:{community.organisation(party).id}"

    def list(self, party: str | None = None, *, state: str | None = None) -> builtins.list[RouteView]:
        """Notifications (of one party), each with what the gate would say now."""
        if party is not None:
            self._recipient(party)  # an unknown party is a clear error, not an empty list
        if state not in (None, "pending", "sent"):
            raise InvalidValue(f"'{state}' is not a state (use pending or sent)")
        rows = self.store.routes(party=party, state=state)
        views = []
        for party_id, group in _by_party(rows).items():
            verdict = self.sharing.decide(
                sorted({r.object_id for r in group}), self._recipient(party_id), "bulletin"
            )
            for row in group:
                views.append(_view(row, verdict))
        return views

    def send(
        self, party: str | None = None, *, out_dir: Path | None = None, fmt: str = "md", mail: bool = False
    ) -> builtins.list[Sent]:
        """A bulletin per party with pending notifications, written to ``out_dir``, or with
        ``mail`` e-mailed to each contact of the organisation (``ws.bulletins.send``: signed,
        encrypted where a key is known, refused where TLP forbids plain mail).  Each release is
        logged by the gate before the file is written or the message sent."""
        if mail:
            return self._mail(party)
        if out_dir is None:
            raise InvalidValue("say where the bulletins go (-o DIR) or send them by e-mail (--mail)")
        if fmt not in FORMATS:
            raise InvalidValue(f"'{fmt}' is not a bulletin format (use one of: {', '.join(FORMATS)})")
        if party is not None:
            self._recipient(party)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CirtError(f"cannot create {out_dir}: {exc.strerror}") from None
        pending = self.store.routes(party=party, state="pending")
        community = self.context.community
        results = []
        for party_id, group in _by_party(pending).items():
            preview = self.sharing.decide(
                sorted({r.object_id for r in group}), self._recipient(party_id), "bulletin"
            )
            allowed = [r for r in group if _view(r, preview).allowed]
            withheld = tuple(
                (r.value, _view(r, preview).reason) for r in group if not _view(r, preview).allowed
            )
            if not allowed:
                continue
            release = self.sharing.release(
                sorted({r.object_id for r in allowed}), self._recipient(party_id), "bulletin", delivery="file"
            )
            name = community.party(party_id).name
            since = min(parse_ts(r.first_seen) for r in allowed)
            bulletin = self.bulletins.compose(release, recipient=name, since=since)
            path = out_dir / f"{bulletin.number}-{party_id}.{fmt}"
            try:
                path.write_text(render(bulletin, fmt), encoding="utf-8")
            except OSError as exc:
                raise CirtError(f"cannot write {path}: {exc.strerror}") from None
            self.store.mark_routes_sent(
                [r.id for r in allowed], at=format_ts(self.context.clock()), bulletin=bulletin.number
            )
            results.append(
                Sent(
                    party_id,
                    bulletin.number,
                    str(path),
                    tuple(r.value for r in allowed),
                    withheld,
                    bulletin.tlp.slug,
                )
            )
        return results

    def _mail(self, party: str | None) -> builtins.list[Sent]:
        community = self.context.community
        if party is not None:
            community.organisation(party)  # bulletins by e-mail go to organisations' contacts
        results = []
        for party_id, group in _by_party(self.store.routes(party=party, state="pending")).items():
            if party_id not in community.organisations:
                continue  # a partner: its channel is TAXII or MISP, not these bulletins
            preview = self.sharing.decide(
                sorted({r.object_id for r in group}), self._recipient(party_id), "email"
            )
            allowed = [r for r in group if _view(r, preview).allowed]
            withheld = tuple(
                (r.value, _view(r, preview).reason) for r in group if not _view(r, preview).allowed
            )
            if not allowed:
                continue
            since = min(parse_ts(r.first_seen) for r in allowed)
            objects = self.store.latest_many(sorted({r.object_id for r in allowed}))
            outcomes = self.bulletins.send(party_id, period=since, objects=objects)
            delivered = [o for o in outcomes if o.status in ("sent", "already-sent")]
            refused = tuple((o.contact, f"{o.status}: {o.detail}") for o in outcomes if o not in delivered)
            if delivered:
                number = delivered[0].number or ""
                self.store.mark_routes_sent(
                    [r.id for r in allowed], at=format_ts(self.context.clock()), bulletin=number
                )
                results.append(
                    Sent(
                        party_id,
                        number,
                        "e-mail to " + ", ".join(o.contact for o in delivered),
                        tuple(r.value for r in allowed),
                        withheld + refused,
                        delivered[0].tlp or "",
                    )
                )
        return results


def _by_party(rows: Iterable[RouteRow]) -> dict[str, list[RouteRow]]:
    grouped: dict[str, list[RouteRow]] = {}
    for row in rows:
        grouped.setdefault(row.party, []).append(row)
    return grouped


def _view(row: RouteRow, verdict: Release) -> RouteView:
    decision = verdict.decision(row.object_id)
    if decision is None:
        return RouteView(row, False, "the object is no longer in the store")
    return RouteView(row, isinstance(decision, Allowed), decision.reason)
