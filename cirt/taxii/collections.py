"""Our TAXII 2.1 API root: its collections, read page by page through the gate, and the inbox.

Two things medallion does not do, this does:

* every object that leaves passes the sharing gate for the party the credential belongs to, in
  every resource (``cirt.taxii.release``); a withheld object answers exactly like an object that
  does not exist, and no count, header or paging token depends on it;
* paging is keyset paging on the store's ``added`` column (TAXII's ``date_added``): ``next`` is
  the date_added of the last object returned, so a page costs the same at any position.

Collections (fixed ids, the same on every installation):

* ``indicators``: everything but incident records, readable by every authenticated party;
* ``incidents``: incidents, reports, notes, opinions, groupings and their relationships and
  identities, readable by every authenticated party;
* ``inbox``: writable by every authenticated party, readable by none; what is posted goes through
  ``cirt.ingest`` with the writing party as provenance.

What HTTP carries (routes, credentials, headers, bodies) is ``cirt.servers.taxii``'s.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cirt.errors import ConflictError, InputRejected, StoreError
from cirt.ingest import IngestSummary, envelope_objects, ingest
from cirt.stixtime import format_ts_micro
from cirt.store import Provenance
from cirt.store.pages import PagedRow, PageFilter
from cirt.taxii.query import (
    DEFAULT_MAX_CONTENT,
    NOT_FOUND_OBJECT,
    STIX_MEDIA,
    TAXII_MEDIA,
    Query,
    TaxiiError,
    encode_next,
)
from cirt.taxii.release import Gatekeeper, ReleasedRow

if TYPE_CHECKING:
    from cirt.context import Context

API_ROOT = "cirt"

INCIDENT_TYPES = ("incident", "report", "note", "opinion", "grouping")


@dataclass(frozen=True)
class CollectionSpec:
    id: str
    alias: str
    title: str
    description: str
    can_read: bool
    can_write: bool
    types_in: tuple[str, ...] = ()
    types_not_in: tuple[str, ...] = ()

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "alias": self.alias,
            "can_read": self.can_read,
            "can_write": self.can_write,
            "media_types": [STIX_MEDIA],
        }


COLLECTIONS: tuple[CollectionSpec, ...] = (
    CollectionSpec(
        "4f7ad23b-7797-48bc-bd33-274dbe359329",
        "indicators",
        "Indicators",
        "Indicators, observables and threat intelligence; each party sees what TLP lets it see.",
        True,
        False,
        types_not_in=INCIDENT_TYPES,
    ),
    CollectionSpec(
        "50924d22-4fe7-44b4-957d-d552a7feb6ce",
        "incidents",
        "Incidents",
        "Incident records with their relationships; each party sees what TLP lets it see.",
        True,
        False,
        types_in=(*INCIDENT_TYPES, "relationship", "identity"),
    ),
    CollectionSpec(
        "9e9cd0bb-1d89-4433-b169-caf58799a6e2",
        "inbox",
        "Inbox",
        "Where partners and sector CIRTs send us STIX objects.",
        False,
        True,
    ),
)
COLLECTIONS_BY_ID = {c.id: c for c in COLLECTIONS}
COLLECTION_ALIASES = {c.alias: c.id for c in COLLECTIONS}


def find_collection(ref: str) -> CollectionSpec:
    """A collection by id or alias; TaxiiError (404) for any other."""
    found = COLLECTIONS_BY_ID.get(ref) or COLLECTIONS_BY_ID.get(COLLECTION_ALIASES.get(ref, ""))
    if found is None:
        raise TaxiiError(404, "Not Found", "no such collection")
    return found


@dataclass(frozen=True)
class Page:
    """A resource's body, and the date_added of its first and last object (for the
    ``X-TAXII-Date-Added-First``/``-Last`` headers; None on an empty page)."""

    body: bytes
    first_added: str | None = None
    last_added: str | None = None


def _dump(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


class TaxiiCollections:
    """The API root's resources for one serving thread: reads through ``gate``, the inbox
    through ``cirt.ingest``."""

    def __init__(
        self, context: Context, gate: Gatekeeper, *, max_content_length: int = DEFAULT_MAX_CONTENT
    ) -> None:
        self.context = context
        self.gate = gate
        self.max_content_length = max_content_length

    # resources --------------------------------------------------------------------------------

    def discovery(self, base_url: str) -> bytes:
        root = f"{base_url}/{API_ROOT}/"
        national = self.context.community.national
        return _dump(
            {
                "title": f"{national.name} TAXII server",
                "description": "STIX 2.1 shared under TLP 2.0; each party sees its share.",
                "contact": national.contacts[0].email if national.contacts else "",
                "default": root,
                "api_roots": [root],
            }
        )

    def api_root(self) -> bytes:
        return _dump(
            {
                "title": f"{self.context.community.national.name}",
                "description": "Indicators and incidents, filtered per party by TLP.",
                "versions": [TAXII_MEDIA],
                "max_content_length": self.max_content_length,
            }
        )

    @staticmethod
    def collections() -> bytes:
        return _dump({"collections": [c.resource() for c in COLLECTIONS]})

    @staticmethod
    def collection(spec: CollectionSpec) -> bytes:
        return _dump(spec.resource())

    def status(self, status_id: str, party: str) -> bytes:
        body = self.context.store.taxii_status(status_id, party)
        if body is None:
            raise TaxiiError(404, "Not Found", "no such status resource")
        return body.encode("utf-8")

    def objects(self, party: str, collection: CollectionSpec, query: Query, *, single: bool = False) -> Page:
        released, more = self.released_page(party, collection, query)
        if single and not released and query.after is None:
            self._raise_absent(party, collection, query)
        page = self.gate.record(released, party).items
        head = {"more": more}
        if more:
            head["next"] = encode_next(page[-1].row.added)  # type: ignore[assignment]
        prefix = json.dumps(head)[:-1]
        objects = ",".join(r.text for r in page)
        return _page(f'{prefix}, "objects": [{objects}]}}'.encode(), page)

    def manifest(self, party: str, collection: CollectionSpec, query: Query) -> Page:
        released, more = self.released_page(party, collection, query)
        page = self.gate.record(released, party).items
        body: dict[str, Any] = {"more": more}
        if more:
            body["next"] = encode_next(page[-1].row.added)
        body["objects"] = [
            {
                "id": r.row.id,
                "date_added": r.row.added,
                "version": r.row.modified or r.row.added,
                "media_type": f"application/stix+json;version={r.row.spec_version}",
            }
            for r in page
        ]
        return _page(_dump(body), page)

    def versions(self, party: str, collection: CollectionSpec, query: Query) -> Page:
        released, more = self.released_page(party, collection, query)
        if not released and query.after is None:
            self._raise_absent(party, collection, query)
        page = self.gate.record(released, party).items
        body: dict[str, Any] = {"more": more}
        if more:
            body["next"] = encode_next(page[-1].row.added)
        body["versions"] = [r.row.modified or r.row.added for r in page]
        return _page(_dump(body), page)

    def post(self, party: str, collection: CollectionSpec, raw: bytes) -> bytes:
        """The inbox: the envelope through ``cirt.ingest`` with the party as provenance; the
        answer is a complete status resource, kept for the party to read again."""
        provenance = Provenance("taxii", party, collection.id)
        try:
            _, objects = envelope_objects(self.context, raw, "the body", provenance)
            summary = ingest(self.context, objects, provenance)
        except InputRejected as exc:
            raise TaxiiError(400, "Bad Request", str(exc)) from None
        except (StoreError, ConflictError):
            # another worker stored some of the same versions between ingest's read and its
            # write; a second pass sees them and counts them as duplicates
            summary = ingest(self.context, objects, provenance)
        status = status_resource(summary, objects, format_ts_micro(self.context.clock()))
        body = json.dumps(status)
        self.context.store.add_taxii_status(status["id"], party, status["request_timestamp"], body)
        return body.encode("utf-8")

    # paging through the gate ------------------------------------------------------------------

    def released_page(
        self, party: str, collection: CollectionSpec, query: Query
    ) -> tuple[list[ReleasedRow], bool]:
        """Up to ``limit`` released rows after the query's lower bound, and whether more follow.

        Candidates are read in ``added`` order in batches; each batch passes the gate; reading
        stops when one released row beyond the page is found (so ``more`` is exact for this
        party) or the collection ends.  Nothing about withheld rows reaches the response.
        """
        released: list[ReleasedRow] = []
        scanned_to = query.lower_bound
        batch = query.limit + 1
        scanned = 0
        while len(released) <= query.limit:
            rows = self.candidates(collection, query, scanned_to, batch, party)
            if not rows:
                break
            released.extend(self.gate.decide(rows, party))
            scanned_to = rows[-1].added
            scanned += len(rows)
            if len(rows) < batch:
                break
            # read about what the release ratio so far says is still needed, not a whole page
            needed = query.limit + 1 - len(released)
            ratio = max(len(released), 1) / scanned
            batch = min(max(int(needed / ratio * 1.2) + 16, 32), 5 * (query.limit + 1))
        page = released[: query.limit]
        return page, len(released) > query.limit

    def candidates(
        self, collection: CollectionSpec, query: Query, after: str | None, limit: int, party: str
    ) -> list[PagedRow]:
        """Rows of the collection the query selects, none above what can reach ``party`` (the
        gate's ceiling), in ``added`` order."""
        return self.context.store.objects_page(
            PageFilter(
                ceiling=self.gate.ceiling(party),
                types_in=collection.types_in,
                types_not_in=collection.types_not_in,
                types=query.types,
                ids=query.ids,
                spec_versions=query.spec_versions,
                versions=query.versions,
            ),
            after,
            limit,
        )

    def _raise_absent(self, party: str, collection: CollectionSpec, query: Query) -> None:
        """404 for an object the party cannot see at all; an empty envelope if it just filtered."""
        probe = Query(ids=query.ids, versions=("all",), limit=1)
        page, _ = self.released_page(party, collection, probe)
        if not page:
            raise NOT_FOUND_OBJECT


def _page(body: bytes, page: Sequence[ReleasedRow]) -> Page:
    if not page:
        return Page(body)
    return Page(body, page[0].row.added, page[-1].row.added)


def status_resource(summary: IngestSummary, objects: list[Any], now: str) -> dict[str, Any]:
    """A complete TAXII status resource from an ingest summary: what was taken, what was not."""
    rejected = {**dict(summary.conflicts), **dict(summary.rejected)}
    successes, failures = [], []
    for index, obj in enumerate(objects):
        object_id = obj.get("id") if isinstance(obj, dict) else None
        version = ""
        if isinstance(obj, dict):
            version = str(obj.get("modified") or obj.get("created") or "")
        ref = object_id if isinstance(object_id, str) and object_id else f"object #{index}"
        if ref in rejected:
            failures.append({"id": ref, "version": version, "message": rejected[ref]})
        else:
            successes.append({"id": ref, "version": version})
    return {
        "id": str(uuid.uuid4()),
        "status": "complete",
        "request_timestamp": now,
        "total_count": len(objects),
        "success_count": len(successes),
        "successes": successes,
        "failure_count": len(failures),
        "failures": failures,
        "pending_count": 0,
        "pendings": [],
    }
