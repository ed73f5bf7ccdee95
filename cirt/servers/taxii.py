"""Our TAXII 2.1 server over HTTP: a plain WSGI application, routed by werkzeug's router.

Every request is authenticated (``cirt.taxii.auth``) and its Accept header checked before it is
routed; each route checks its method, the collection's permission and the query filters
(``cirt.taxii.query``), then asks the API root's resources (``cirt.taxii.collections``), which
read through the gate.  Every error, ours or a bad day's (a database gone away, a throttled
login, a body too slow to arrive), is a TAXII error message; a stack trace goes to the
operator's log, never to the client.  Resource layout and error format follow the TAXII 2.1
specification (as medallion lays them out); the code is ours.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule

from cirt.errors import StoreLocked, StoreUnavailable
from cirt.taxii.auth import Authenticator, FailedLogins, LoginThrottled
from cirt.taxii.collections import (
    API_ROOT,
    CollectionSpec,
    Page,
    TaxiiCollections,
    find_collection,
)
from cirt.taxii.query import (
    DEFAULT_MAX_CONTENT,
    DEFAULT_MAX_PAGE,
    LIST_FILTERS,
    NOT_FOUND_OBJECT,
    OBJECT_FILTERS,
    OBJECT_ID,
    TAXII_MEDIA,
    VERSIONS_FILTERS,
    TaxiiError,
    check_accept,
    error_body,
    parse_query,
)
from cirt.taxii.release import Gatekeeper

if TYPE_CHECKING:
    from cirt.workspace import Workspace

DISCOVERY_PATH = "/taxii2/"
_COLLECTION = f"/{API_ROOT}/collections/<collection>"
ROUTES = Map(
    [
        Rule(DISCOVERY_PATH, endpoint="discovery"),
        Rule(f"/{API_ROOT}/", endpoint="api_root"),
        Rule(f"/{API_ROOT}/status/<status_id>/", endpoint="status"),
        Rule(f"/{API_ROOT}/collections/", endpoint="collections"),
        Rule(f"{_COLLECTION}/", endpoint="collection"),
        Rule(f"{_COLLECTION}/objects/", endpoint="objects"),
        Rule(f"{_COLLECTION}/manifest/", endpoint="manifest"),
        Rule(f"{_COLLECTION}/objects/<object_id>/", endpoint="object"),
        Rule(f"{_COLLECTION}/objects/<object_id>/versions/", endpoint="versions"),
        Rule(f"{_COLLECTION}/<path:rest>/", endpoint="in_collection"),  # none: after the lookup
    ]
)
"""Paths only: each route checks its own methods, so a wrong method on a missing collection
answers like it always did (404 before 405)."""
_MATCH = ROUTES.bind("taxii")

_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    411: "Length Required",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

# What a client is told to wait while the database is unreachable (a restart takes seconds).
DATABASE_RETRY_AFTER_S = 5


@dataclass
class Request:
    environ: dict[str, Any]
    method: str
    path: str
    party: str = ""
    base_url: str = ""
    headers_out: list[tuple[str, str]] = field(default_factory=list)

    @property
    def query_text(self) -> str:
        return str(self.environ.get("QUERY_STRING", ""))


class _PerThread(threading.local):
    """What one serving thread owns: its own workspace (its own database connection, whose
    transactions no other thread can interleave with), resources and authenticator."""

    ws: Workspace | None = None
    auth: Authenticator | None = None
    collections: TaxiiCollections | None = None


def _only(request: Request, *methods: str) -> None:
    if request.method not in methods:
        raise TaxiiError(
            405,
            "Method Not Allowed",
            f"{request.method} is not supported here",
            (("Allow", ", ".join(methods)),),
        )


def _may_read(spec: CollectionSpec) -> None:
    if not spec.can_read:
        raise TaxiiError(403, "Forbidden", "this collection is not readable")


def _may_write(spec: CollectionSpec) -> None:
    if not spec.can_write:
        raise TaxiiError(403, "Forbidden", "this collection is not writable")


def _route_path(path: str) -> str:
    """The path as the routes spell it: empty segments dropped, one slash after each."""
    return "/" + "".join(f"{part}/" for part in path.split("/") if part)


class TaxiiApp:
    """The WSGI application.  ``opener`` opens the workspace once per serving thread; failed
    logins are counted per process, across its threads."""

    def __init__(
        self,
        opener: Callable[[], Workspace],
        *,
        max_page: int = DEFAULT_MAX_PAGE,
        max_content_length: int = DEFAULT_MAX_CONTENT,
    ) -> None:
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
    def collections(self) -> TaxiiCollections:
        """The API root's resources over this thread's workspace, its gate kept per thread."""
        if self._local.collections is None:
            ws = self.ws
            self._local.collections = TaxiiCollections(
                ws.context, Gatekeeper(ws.context, ws.sharing), max_content_length=self.max_content_length
            )
        return self._local.collections

    @property
    def auth(self) -> Authenticator:
        if self._local.auth is None:
            self._local.auth = Authenticator(self.ws.store, self._failed_logins)
        return self._local.auth

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(
            environ, environ.get("REQUEST_METHOD", "GET").upper(), environ.get("PATH_INFO", "/") or "/"
        )
        try:
            status, body = self._answer(request)
        except TaxiiError as exc:
            status = exc.status
            request.headers_out = list(exc.headers)
            body = error_body(exc.status, exc.title, exc.description)
        except Exception as exc:  # the TAXII error format even for our own bugs, never a stack
            errors = environ.get("wsgi.errors")
            if errors is not None:  # the operator's log gets the stack, the client does not
                errors.write(traceback.format_exc())
            status = 500
            request.headers_out = []
            body = error_body(500, "Internal Server Error", type(exc).__name__)
        headers = [("Content-Type", TAXII_MEDIA), ("Content-Length", str(len(body))), *request.headers_out]
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
            raise TaxiiError(
                503,
                "Service Unavailable",
                "the database is unavailable; try again shortly",
                (("Retry-After", str(DATABASE_RETRY_AFTER_S)),),
            ) from None
        except StoreLocked:
            raise TaxiiError(
                503, "Service Unavailable", "busy; try again shortly", (("Retry-After", "2"),)
            ) from None
        except LoginThrottled as exc:
            raise TaxiiError(
                429,
                "Too Many Requests",
                "too many failed logins from this address; try again later",
                (("Retry-After", str(exc.retry_after)),),
            ) from None
        except TimeoutError:  # the socket's read timeout (cirt.servers.taxii_serving) on a body
            raise TaxiiError(408, "Request Timeout", "the request body did not arrive in time") from None

    def _reconnect(self) -> None:
        """Forget the workspace: the next request opens the database anew."""
        if self._local.ws is not None:
            with suppress(Exception):  # its connection is broken already
                self._local.ws.close()
        self._local.ws, self._local.auth, self._local.collections = None, None, None

    def _handle(self, request: Request) -> tuple[int, bytes]:
        """Who is asking (401 before anything else), what they accept, then the route."""
        env = request.environ
        scheme = env.get("wsgi.url_scheme", "http")
        host = env.get("HTTP_HOST") or f"{env.get('SERVER_NAME', '127.0.0.1')}:{env.get('SERVER_PORT', '')}"
        request.base_url = f"{scheme}://{host}"
        party = self.auth.party_for(env.get("HTTP_AUTHORIZATION"), env.get("REMOTE_ADDR") or "")
        community = self.ws.community
        if party not in community.organisations and party not in community.partners:
            party = None  # issued to a party sectors.yaml no longer names
        if party is None:
            raise TaxiiError(
                401,
                "Unauthorized",
                "valid credentials are required",
                (("WWW-Authenticate", 'Basic realm="cirt TAXII"'),),
            )
        request.party = party
        check_accept(env.get("HTTP_ACCEPT"))
        try:
            endpoint, values = _MATCH.match(_route_path(request.path))
        except HTTPException:
            raise TaxiiError(404, "Not Found", "no such resource") from None
        route: Callable[..., tuple[int, bytes]] = getattr(self, f"_{endpoint}")
        return route(request, **values)

    # routes -------------------------------------------------------------------------------------

    def _plain_get(self, request: Request) -> None:
        _only(request, "GET")
        parse_query(request.query_text, (), self.max_page)

    def _discovery(self, request: Request) -> tuple[int, bytes]:
        self._plain_get(request)
        return 200, self.collections.discovery(request.base_url)

    def _api_root(self, request: Request) -> tuple[int, bytes]:
        self._plain_get(request)
        return 200, self.collections.api_root()

    def _status(self, request: Request, status_id: str) -> tuple[int, bytes]:
        self._plain_get(request)
        return 200, self.collections.status(status_id, request.party)

    def _collections(self, request: Request) -> tuple[int, bytes]:
        self._plain_get(request)
        return 200, self.collections.collections()

    def _collection(self, request: Request, collection: str) -> tuple[int, bytes]:
        spec = find_collection(collection)
        self._plain_get(request)
        return 200, self.collections.collection(spec)

    def _objects(self, request: Request, collection: str) -> tuple[int, bytes]:
        spec = find_collection(collection)
        if request.method == "POST":
            _may_write(spec)
            parse_query(request.query_text, (), self.max_page)
            return 202, self.collections.post(request.party, spec, self._body(request))
        _only(request, "GET", "POST")
        _may_read(spec)
        query = parse_query(request.query_text, LIST_FILTERS, self.max_page)
        return self._paged(request, self.collections.objects(request.party, spec, query))

    def _manifest(self, request: Request, collection: str) -> tuple[int, bytes]:
        spec = find_collection(collection)
        _only(request, "GET")
        _may_read(spec)
        query = parse_query(request.query_text, LIST_FILTERS, self.max_page)
        return self._paged(request, self.collections.manifest(request.party, spec, query))

    def _object(self, request: Request, collection: str, object_id: str) -> tuple[int, bytes]:
        spec = find_collection(collection)
        _only(request, "GET")
        _may_read(spec)
        if not OBJECT_ID.match(object_id):
            raise NOT_FOUND_OBJECT
        query = parse_query(request.query_text, OBJECT_FILTERS, self.max_page)
        query.ids = (object_id,)
        return self._paged(request, self.collections.objects(request.party, spec, query, single=True))

    def _versions(self, request: Request, collection: str, object_id: str) -> tuple[int, bytes]:
        spec = find_collection(collection)
        _only(request, "GET")
        _may_read(spec)
        if not OBJECT_ID.match(object_id):
            raise NOT_FOUND_OBJECT
        query = parse_query(request.query_text, VERSIONS_FILTERS, self.max_page)
        query.ids, query.versions = (object_id,), ("all",)
        return self._paged(request, self.collections.versions(request.party, spec, query))

    def _in_collection(self, request: Request, collection: str, rest: str) -> tuple[int, bytes]:
        find_collection(collection)  # an unknown collection says so first
        raise TaxiiError(404, "Not Found", "no such resource")

    @staticmethod
    def _paged(request: Request, page: Page) -> tuple[int, bytes]:
        if page.first_added is not None and page.last_added is not None:
            request.headers_out += [
                ("X-TAXII-Date-Added-First", page.first_added),
                ("X-TAXII-Date-Added-Last", page.last_added),
            ]
        return 200, page.body

    def _body(self, request: Request) -> bytes:
        """The POST body: TAXII JSON, its length declared and within max_content_length."""
        env = request.environ
        content_type = (env.get("CONTENT_TYPE") or "").replace(" ", "").lower()
        if content_type not in ("application/taxii+json;version=2.1", "application/taxii+json"):
            raise TaxiiError(415, "Unsupported Media Type", f"send the envelope as {TAXII_MEDIA}")
        length_text = env.get("CONTENT_LENGTH") or ""
        if not length_text.isdigit():
            raise TaxiiError(411, "Length Required", "a Content-Length header is required")
        length = int(length_text)
        if length > self.max_content_length:
            raise TaxiiError(
                413, "Payload Too Large", f"the body is over max_content_length ({self.max_content_length})"
            )
        body: bytes = env["wsgi.input"].read(length)
        return body
