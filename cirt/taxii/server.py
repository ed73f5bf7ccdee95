"""Our TAXII 2.1 server: a plain WSGI application over the store, with the gate on every response.

Resource layout and error format follow the TAXII 2.1 specification (as medallion lays them out);
the code is ours.  Two things medallion does not do, this does:

* every object that leaves passes the sharing gate for the party the credential belongs to, in
  every endpoint; a withheld object answers exactly like an object that does not exist (same
  status, same body), and no count, header or paging token depends on it;
* paging is keyset paging on the store's ``added`` column (TAXII's ``date_added``): ``next`` is
  the date_added of the last object returned, so a page costs the same at any position.

Collections (fixed ids, the same on every installation):

* ``indicators``: everything but incident records, readable by every authenticated party;
* ``incidents``: incidents, reports, notes, opinions, groupings and their relationships and
  identities, readable by every authenticated party;
* ``inbox``: writable by every authenticated party, readable by none; what is posted goes through
  ``cirt.ingest`` with the writing party as provenance.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from cirt.errors import ConflictError, StoreError, StoreLocked, StoreUnavailable
from cirt.stixtime import format_ts_micro, parse_ts
from cirt.taxii.auth import Authenticator, FailedLogins, LoginThrottled
from cirt.taxii.release import (
    NEWEST_TLP,
    PAGED_COLUMNS,
    Gatekeeper,
    PagedRow,
    ReleasedRow,
    paged_rows,
)

if TYPE_CHECKING:
    from cirt.ingest import IngestSummary
    from cirt.workspace import Workspace

TAXII_MEDIA = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"
DISCOVERY_PATH = "/taxii2/"
API_ROOT = "cirt"
DEFAULT_MAX_PAGE = 1000
DEFAULT_MAX_CONTENT = 10 * 1024 * 1024

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
        return {"id": self.id, "title": self.title, "description": self.description,
                "alias": self.alias, "can_read": self.can_read, "can_write": self.can_write,
                "media_types": [STIX_MEDIA]}


COLLECTIONS: tuple[CollectionSpec, ...] = (
    CollectionSpec("4f7ad23b-7797-48bc-bd33-274dbe359329", "indicators", "Indicators",
                   "Indicators, observables and threat intelligence; each party sees what TLP "
                   "lets it see.", True, False, types_not_in=INCIDENT_TYPES),
    CollectionSpec("50924d22-4fe7-44b4-957d-d552a7feb6ce", "incidents", "Incidents",
                   "Incident records with their relationships; each party sees what TLP lets "
                   "it see.", True, False,
                   types_in=(*INCIDENT_TYPES, "relationship", "identity")),
    CollectionSpec("9e9cd0bb-1d89-4433-b169-caf58799a6e2", "inbox", "Inbox",
                   "Where partners and sector CIRTs send us STIX objects.", False, True),
)
COLLECTIONS_BY_ID = {c.id: c for c in COLLECTIONS}
COLLECTION_ALIASES = {c.alias: c.id for c in COLLECTIONS}

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                 r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{0,249}$")
_SPEC = re.compile(r"^\d\.\d$")


class TaxiiError(Exception):
    """An error response in the TAXII 2.1 error-message format."""

    def __init__(self, status: int, title: str, description: str,
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(description)
        self.status, self.title, self.description, self.headers = status, title, description, headers


_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            406: "Not Acceptable", 408: "Request Timeout", 411: "Length Required",
            413: "Payload Too Large", 415: "Unsupported Media Type",
            422: "Unprocessable Entity", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}

# What a client is told to wait while the database is unreachable (a restart takes seconds).
DATABASE_RETRY_AFTER_S = 5


def error_body(status: int, title: str, description: str) -> bytes:
    """A TAXII 2.1 error message (section 3.6.1): every error we answer, ours or gunicorn's."""
    return json.dumps({"title": title, "http_status": str(status),
                       "description": description}).encode("utf-8")

NOT_FOUND_OBJECT = TaxiiError(404, "Not Found", "no such object in this collection")


# -- query parameters ----------------------------------------------------------------------


@dataclass
class Query:
    """The validated filters of a request (TAXII 2.1 section 3.6)."""

    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)
    spec_versions: tuple[str, ...] = ()
    added_after: str | None = None
    limit: int = DEFAULT_MAX_PAGE
    after: str | None = None  # decoded ``next``: the date_added of the last object returned

    @property
    def lower_bound(self) -> str | None:
        bounds = [b for b in (self.added_after, self.after) if b]
        return max(bounds) if bounds else None


def parse_query(text: str, allowed: Iterable[str], max_page: int) -> Query:
    allowed_set = set(allowed)
    try:
        params = parse_qs(text, keep_blank_values=True, strict_parsing=False, max_num_fields=64)
    except ValueError:
        raise TaxiiError(400, "Bad Request", "too many query parameters") from None
    query = Query(limit=max_page)
    for name, values in params.items():
        if name not in allowed_set:
            raise TaxiiError(400, "Bad Request", f"unsupported query parameter '{name[:40]}'")
        if len(values) != 1:
            raise TaxiiError(400, "Bad Request", f"query parameter '{name}' given more than once")
        value = values[0]
        if name == "limit":
            if not value.isdigit() or int(value) <= 0 or len(value) > 9:
                raise TaxiiError(400, "Bad Request", "limit must be a positive integer")
            query.limit = min(int(value), max_page)
        elif name == "added_after":
            query.added_after = _timestamp(value, name)
        elif name == "next":
            query.after = _decode_next(value)
        else:
            items = tuple(v.strip() for v in value.split(","))
            if not all(items):
                raise TaxiiError(400, "Bad Request", f"{name} has an empty value")
            if name == "match[id]":
                _check_all(items, _ID, name)
                query.ids = items
            elif name == "match[type]":
                _check_all(items, _TYPE, name)
                query.types = items
            elif name == "match[spec_version]":
                _check_all(items, _SPEC, name)
                query.spec_versions = items
            elif name == "match[version]":
                for item in items:
                    if item not in ("first", "last", "all"):
                        _timestamp(item, name)
                query.versions = items
    return query


def _check_all(items: tuple[str, ...], pattern: re.Pattern[str], name: str) -> None:
    for item in items:
        if not pattern.match(item):
            raise TaxiiError(400, "Bad Request", f"{name}: '{item[:80]}' is not valid")


def _timestamp(value: str, name: str) -> str:
    try:
        return format_ts_micro(parse_ts(value))
    except ValueError:
        raise TaxiiError(400, "Bad Request",
                         f"{name} must be an RFC 3339 UTC timestamp such as "
                         "2026-03-10T14:00:00.000000Z") from None


def encode_next(added: str) -> str:
    return base64.urlsafe_b64encode(added.encode("ascii")).decode("ascii").rstrip("=")


def _decode_next(token: str) -> str:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        return format_ts_micro(parse_ts(text))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise TaxiiError(400, "Bad Request", "next is not a token this server issued") from None


def _version_variants(stamp: str) -> list[str]:
    """The spellings a stored ``modified`` of this instant may have (ms, µs, seconds)."""
    moment = parse_ts(stamp)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    out = {stamp, format_ts_micro(moment), f"{base}.{moment.microsecond // 1000:03d}Z"}
    if moment.microsecond == 0:
        out.add(base + "Z")
    return sorted(out)


# -- the application -----------------------------------------------------------------------


@dataclass
class Request:
    environ: dict[str, Any]
    method: str
    path: str
    party: str = ""
    base_url: str = ""
    headers_out: list[tuple[str, str]] = field(default_factory=list)


class _PerThread(threading.local):
    """What one serving thread owns: its own workspace (its own database connection, whose
    transactions no other thread can interleave with), gate and authenticator."""

    ws: Workspace | None = None
    auth: Authenticator | None = None
    gate: Gatekeeper | None = None


class TaxiiApp:
    """The WSGI application.  ``opener`` opens the workspace once per serving thread; failed
    logins are counted per process, across its threads."""

    def __init__(self, opener: Callable[[], Workspace], *, max_page: int = DEFAULT_MAX_PAGE,
                 max_content_length: int = DEFAULT_MAX_CONTENT) -> None:
        self._opener = opener
        self._local = _PerThread()
        self._failed_logins = FailedLogins()
        self.max_page = max_page
        self.max_content_length = max_content_length

    @property
    def ws(self) -> Workspace:
        if self._local.ws is None:
            self._local.ws = self._opener()
        return self._local.ws

    @property
    def gate(self) -> Gatekeeper:
        if self._local.gate is None:
            self._local.gate = Gatekeeper(self.ws)
        return self._local.gate

    @property
    def auth(self) -> Authenticator:
        if self._local.auth is None:
            self._local.auth = Authenticator(self.ws.store, self._failed_logins)
        return self._local.auth

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ, environ.get("REQUEST_METHOD", "GET").upper(),
                          environ.get("PATH_INFO", "/") or "/")
        try:
            status, body = self._answer(request)
        except TaxiiError as exc:
            status = exc.status
            request.headers_out = list(exc.headers)
            body = error_body(exc.status, exc.title, exc.description)
        except Exception as exc:  # the TAXII error format even for our own bugs, never a stack
            import traceback

            errors = environ.get("wsgi.errors")
            if errors is not None:  # the operator's log gets the stack, the client does not
                errors.write(traceback.format_exc())
            status = 500
            request.headers_out = []
            body = error_body(500, "Internal Server Error", type(exc).__name__)
        headers = [("Content-Type", TAXII_MEDIA), ("Content-Length", str(len(body))),
                   *request.headers_out]
        start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
        return [body]

    def _answer(self, request: Request) -> tuple[int, bytes]:
        """The response, with the conditions of a bad day turned into TAXII errors: a database
        that went away (reconnect; a read is tried once more at once), a throttled login, a
        client too slow to send its body."""
        try:
            try:
                return self._handle(request)
            except StoreUnavailable:
                self._reconnect()
                if request.method != "GET":
                    raise
                request.headers_out = []
                return self._handle(request)
        except StoreUnavailable:
            self._reconnect()
            raise TaxiiError(503, "Service Unavailable",
                             "the database is unavailable; try again shortly",
                             (("Retry-After", str(DATABASE_RETRY_AFTER_S)),)) from None
        except StoreLocked:
            raise TaxiiError(503, "Service Unavailable", "busy; try again shortly",
                             (("Retry-After", "2"),)) from None
        except LoginThrottled as exc:
            raise TaxiiError(429, "Too Many Requests",
                             "too many failed logins from this address; try again later",
                             (("Retry-After", str(exc.retry_after)),)) from None
        except TimeoutError:  # the socket's read timeout (cirt.taxii.serving) reading the body
            raise TaxiiError(408, "Request Timeout",
                             "the request body did not arrive in time") from None

    def _reconnect(self) -> None:
        """Forget the workspace: the next request opens the database anew."""
        if self._local.ws is not None:
            with suppress(Exception):  # its connection is broken already
                self._local.ws.close()
        self._local.ws, self._local.auth, self._local.gate = None, None, None

    # routing ------------------------------------------------------------------------------

    def _handle(self, request: Request) -> tuple[int, bytes]:
        env = request.environ
        scheme = env.get("wsgi.url_scheme", "http")
        host = env.get("HTTP_HOST") or f"{env.get('SERVER_NAME', '127.0.0.1')}:{env.get('SERVER_PORT', '')}"
        request.base_url = f"{scheme}://{host}"
        party = self.auth.party_for(env.get("HTTP_AUTHORIZATION"), env.get("REMOTE_ADDR") or "")
        community = self.ws.community
        if party not in community.organisations and party not in community.partners:
            party = None  # issued to a party sectors.yaml no longer names
        if party is None:
            raise TaxiiError(401, "Unauthorized", "valid credentials are required",
                             (("WWW-Authenticate", 'Basic realm="cirt TAXII"'),))
        request.party = party
        self._check_accept(env.get("HTTP_ACCEPT"))
        parts = [p for p in request.path.split("/") if p]
        query_text = env.get("QUERY_STRING", "")
        if parts == ["taxii2"]:
            self._only(request, "GET")
            parse_query(query_text, (), self.max_page)
            return 200, _dump(self._discovery(request))
        if not parts or parts[0] != API_ROOT:
            raise TaxiiError(404, "Not Found", "no such resource")
        rest = parts[1:]
        if not rest:
            self._only(request, "GET")
            parse_query(query_text, (), self.max_page)
            return 200, _dump(self._api_root_info())
        if rest[0] == "status" and len(rest) == 2:
            self._only(request, "GET")
            parse_query(query_text, (), self.max_page)
            body = self.ws.store.taxii_status(rest[1], party)
            if body is None:
                raise TaxiiError(404, "Not Found", "no such status resource")
            return 200, body.encode("utf-8")
        if rest[0] != "collections":
            raise TaxiiError(404, "Not Found", "no such resource")
        if len(rest) == 1:
            self._only(request, "GET")
            parse_query(query_text, (), self.max_page)
            return 200, _dump({"collections": [c.resource() for c in COLLECTIONS]})
        collection = COLLECTIONS_BY_ID.get(rest[1]) or COLLECTIONS_BY_ID.get(
            COLLECTION_ALIASES.get(rest[1], ""))
        if collection is None:
            raise TaxiiError(404, "Not Found", "no such collection")
        tail = rest[2:]
        if not tail:
            self._only(request, "GET")
            parse_query(query_text, (), self.max_page)
            return 200, _dump(collection.resource())
        if tail == ["objects"]:
            if request.method == "POST":
                self._may_write(collection)
                parse_query(query_text, (), self.max_page)
                return 202, self._post(request, collection)
            self._only(request, "GET", "POST")
            self._may_read(collection)
            query = parse_query(query_text, ("match[id]", "match[type]", "match[version]",
                                             "match[spec_version]", "added_after", "limit",
                                             "next"), self.max_page)
            return 200, self._objects(request, collection, query)
        if tail == ["manifest"]:
            self._only(request, "GET")
            self._may_read(collection)
            query = parse_query(query_text, ("match[id]", "match[type]", "match[version]",
                                             "match[spec_version]", "added_after", "limit",
                                             "next"), self.max_page)
            return 200, self._manifest(request, collection, query)
        if len(tail) in (2, 3) and tail[0] == "objects":
            if len(tail) == 3 and tail[2] != "versions":
                raise TaxiiError(404, "Not Found", "no such resource")
            self._only(request, "GET")
            self._may_read(collection)
            object_id = tail[1]
            if not _ID.match(object_id):
                raise NOT_FOUND_OBJECT
            if len(tail) == 2:
                query = parse_query(query_text, ("match[version]", "match[spec_version]",
                                                 "added_after", "limit", "next"), self.max_page)
                query.ids = (object_id,)
                return 200, self._objects(request, collection, query, single=True)
            query = parse_query(query_text, ("match[spec_version]", "added_after", "limit",
                                             "next"), self.max_page)
            query.ids, query.versions = (object_id,), ("all",)
            return 200, self._versions(request, collection, query)
        raise TaxiiError(404, "Not Found", "no such resource")

    @staticmethod
    def _only(request: Request, *methods: str) -> None:
        if request.method not in methods:
            raise TaxiiError(405, "Method Not Allowed", f"{request.method} is not supported here",
                             (("Allow", ", ".join(methods)),))

    @staticmethod
    def _may_read(collection: CollectionSpec) -> None:
        if not collection.can_read:
            raise TaxiiError(403, "Forbidden", "this collection is not readable")

    @staticmethod
    def _may_write(collection: CollectionSpec) -> None:
        if not collection.can_write:
            raise TaxiiError(403, "Forbidden", "this collection is not writable")

    @staticmethod
    def _check_accept(accept: str | None) -> None:
        if accept is None or not accept.strip():
            return
        for item in accept.split(","):
            media, *params = [p.strip() for p in item.split(";")]
            media = media.lower()
            if media in ("*/*", "application/*"):
                return
            if media == "application/taxii+json":
                version = [p.split("=", 1)[1].strip() for p in params
                           if p.lower().startswith("version=")]
                if not version or version[0] == "2.1":
                    return
        raise TaxiiError(406, "Not Acceptable",
                         f"this server answers {TAXII_MEDIA} only")

    # resources ----------------------------------------------------------------------------

    def _discovery(self, request: Request) -> dict[str, Any]:
        root = f"{request.base_url}/{API_ROOT}/"
        national = self.ws.community.national
        return {"title": f"{national.name} TAXII server",
                "description": "STIX 2.1 shared under TLP 2.0; each party sees its share.",
                "contact": national.contacts[0].email if national.contacts else "",
                "default": root, "api_roots": [root]}

    def _api_root_info(self) -> dict[str, Any]:
        return {"title": f"{self.ws.community.national.name}",
                "description": "Indicators and incidents, filtered per party by TLP.",
                "versions": [TAXII_MEDIA], "max_content_length": self.max_content_length}

    def _released_page(self, request: Request, collection: CollectionSpec,
                       query: Query) -> tuple[list[ReleasedRow], bool]:
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
            rows = self._candidates(collection, query, scanned_to, batch, request.party)
            if not rows:
                break
            released.extend(self.gate.decide(rows, request.party))
            scanned_to = rows[-1].added
            scanned += len(rows)
            if len(rows) < batch:
                break
            # read about what the release ratio so far says is still needed, not a whole page
            needed = query.limit + 1 - len(released)
            ratio = max(len(released), 1) / scanned
            batch = min(max(int(needed / ratio * 1.2) + 16, 32), 5 * (query.limit + 1))
        page = released[:query.limit]
        return page, len(released) > query.limit

    def _candidates(self, collection: CollectionSpec, query: Query, after: str | None,
                    limit: int, party: str) -> list[PagedRow]:
        store = self.ws.store
        where: list[str] = []
        params: list[Any] = []
        if collection.types_in:
            where.append(f"type IN ({','.join('?' * len(collection.types_in))})")
            params += collection.types_in
        if collection.types_not_in:
            where.append(f"type NOT IN ({','.join('?' * len(collection.types_not_in))})")
            params += collection.types_not_in
        if query.types:
            where.append(f"type IN ({','.join('?' * len(query.types))})")
            params += query.types
        if query.ids:
            where.append(f"id IN ({','.join('?' * len(query.ids))})")
            params += query.ids
        if query.spec_versions:
            where.append(f"spec_version IN ({','.join('?' * len(query.spec_versions))})")
            params += query.spec_versions
        if "all" not in query.versions:
            alternatives = []
            for version in query.versions:
                if version == "last":
                    alternatives.append("latest = 1")
                elif version == "first":
                    alternatives.append("modified = (SELECT MIN(o2.modified) FROM objects o2"
                                        " WHERE o2.id = objects.id)")
                else:
                    variants = _version_variants(version)
                    alternatives.append(f"modified IN ({','.join('?' * len(variants))})")
                    params += variants
            where.append("(" + " OR ".join(alternatives) + ")")
        # a version goes only where its newest version may go too: nothing above the ceiling
        ceiling = int(self.gate.ceiling(party))
        where.append("tlp <= ?")
        params.append(ceiling)
        if query.versions != ("last",):
            where.append(f"{NEWEST_TLP} <= ?")
            params.append(ceiling)
        if after:
            where.append("added > ?")
            params.append(after)
        hint = ""
        if store.db.dialect == "sqlite" and not query.ids:
            hint = " INDEXED BY objects_added"  # walk date_added order; never sort the collection
        rows = store.db.query(
            f"SELECT {PAGED_COLUMNS} FROM objects{hint} WHERE {' AND '.join(where)}"
            f" ORDER BY added LIMIT {int(limit)}", params)
        return paged_rows(rows)

    def _page_headers(self, request: Request, page: Sequence[ReleasedRow]) -> None:
        if page:
            request.headers_out += [("X-TAXII-Date-Added-First", page[0].row.added),
                                    ("X-TAXII-Date-Added-Last", page[-1].row.added)]

    def _objects(self, request: Request, collection: CollectionSpec, query: Query, *,
                 single: bool = False) -> bytes:
        released, more = self._released_page(request, collection, query)
        if single and not released and query.after is None:
            self._raise_absent(request, collection, query)
        page = self.gate.record(released, request.party).items
        self._page_headers(request, page)
        head = {"more": more}
        if more:
            head["next"] = encode_next(page[-1].row.added)  # type: ignore[assignment]
        prefix = json.dumps(head)[:-1]
        objects = ",".join(r.text for r in page)
        return f'{prefix}, "objects": [{objects}]}}'.encode()

    def _raise_absent(self, request: Request, collection: CollectionSpec, query: Query) -> None:
        """404 for an object the party cannot see at all; an empty envelope if it just filtered."""
        probe = Query(ids=query.ids, versions=("all",), limit=1)
        page, _ = self._released_page(request, collection, probe)
        if not page:
            raise NOT_FOUND_OBJECT

    def _manifest(self, request: Request, collection: CollectionSpec, query: Query) -> bytes:
        released, more = self._released_page(request, collection, query)
        page = self.gate.record(released, request.party).items
        self._page_headers(request, page)
        body: dict[str, Any] = {"more": more}
        if more:
            body["next"] = encode_next(page[-1].row.added)
        body["objects"] = [{"id": r.row.id, "date_added": r.row.added,
                            "version": r.row.modified or r.row.added,
                            "media_type": f"application/stix+json;version={r.row.spec_version}"}
                           for r in page]
        return _dump(body)

    def _versions(self, request: Request, collection: CollectionSpec, query: Query) -> bytes:
        released, more = self._released_page(request, collection, query)
        if not released and query.after is None:
            self._raise_absent(request, collection, query)
        page = self.gate.record(released, request.party).items
        self._page_headers(request, page)
        body: dict[str, Any] = {"more": more}
        if more:
            body["next"] = encode_next(page[-1].row.added)
        body["versions"] = [r.row.modified or r.row.added for r in page]
        return _dump(body)

    def _post(self, request: Request, collection: CollectionSpec) -> bytes:
        env = request.environ
        content_type = (env.get("CONTENT_TYPE") or "").replace(" ", "").lower()
        if content_type not in ("application/taxii+json;version=2.1", "application/taxii+json"):
            raise TaxiiError(415, "Unsupported Media Type",
                             f"send the envelope as {TAXII_MEDIA}")
        length_text = env.get("CONTENT_LENGTH") or ""
        if not length_text.isdigit():
            raise TaxiiError(411, "Length Required", "a Content-Length header is required")
        length = int(length_text)
        if length > self.max_content_length:
            raise TaxiiError(413, "Payload Too Large",
                             f"the body is over max_content_length ({self.max_content_length})")
        raw = env["wsgi.input"].read(length)
        from cirt.errors import InputRejected
        from cirt.ingest import envelope_objects, ingest
        from cirt.store import Provenance

        provenance = Provenance("taxii", request.party, collection.id)
        try:
            _, objects = envelope_objects(self.ws.context, raw, "the body", provenance)
            summary = ingest(self.ws.context, objects, provenance)
        except InputRejected as exc:
            raise TaxiiError(400, "Bad Request", str(exc)) from None
        except (StoreError, ConflictError):
            # another worker stored some of the same versions between ingest's read and its
            # write; a second pass sees them and counts them as duplicates
            summary = ingest(self.ws.context, objects, provenance)
        status = status_resource(summary, objects, self.ws)
        body = json.dumps(status)
        self.ws.store.add_taxii_status(status["id"], request.party, status["request_timestamp"],
                                       body)
        return body.encode("utf-8")


def status_resource(summary: IngestSummary, objects: list[Any], ws: Workspace) -> dict[str, Any]:
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
    return {"id": str(uuid.uuid4()), "status": "complete",
            "request_timestamp": format_ts_micro(ws.clock()),
            "total_count": len(objects), "success_count": len(successes),
            "successes": successes, "failure_count": len(failures), "failures": failures,
            "pending_count": 0, "pendings": []}


def _dump(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")

