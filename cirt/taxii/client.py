"""Exchange with partners' TAXII 2.1 servers: discover, pull (incremental), push (through the gate).

A service: ``TaxiiExchange`` receives the Context, ``Sharing`` (a push is released through the
gate, ``cirt.taxii.release``) and the incident desk (to push one incident); what a pull brings
goes through ``cirt.ingest``.

taxii2-client does the talking (discovery, API roots, collections, add objects, status); pages
of a pull are read over its connection too, because the cursor needs the response headers that
its ``get_objects`` drops.  Every remote failure becomes a ``RemoteError`` naming the partner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import requests
from taxii2client.common import _HTTPConnection
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import ApiRoot, Collection, Server

from cirt.bounded_http import BoundedSession, PeerLimits, origin
from cirt.errors import InputRejected, InvalidValue, RemoteError
from cirt.ingest import envelope_objects, ingest
from cirt.stixtime import format_ts_micro, parse_ts
from cirt.store import LOCAL, Provenance, StoredObject, canonical_json, version_of
from cirt.store.taxii_state import PushRecord
from cirt.taxii.auth import peer_credentials
from cirt.taxii.query import TAXII_MEDIA
from cirt.taxii.release import Gatekeeper

if TYPE_CHECKING:
    from cirt.community import Partner, TaxiiEndpoint
    from cirt.context import Context
    from cirt.incident_desk import IncidentDesk
    from cirt.sharing import Sharing

PAGE_SIZE = 1000
STATUS_TIMEOUT = 60.0
ENVELOPE_OVERHEAD = len('{"objects":[]}')
Progress = Callable[[int, str], None]


# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionInfo:
    id: str
    title: str
    can_read: bool
    can_write: bool
    configured: str  # "pull", "push", "pull, push" or ""


@dataclass(frozen=True)
class ApiRootInfo:
    url: str
    title: str
    max_content_length: int
    collections: tuple[CollectionInfo, ...]


@dataclass(frozen=True)
class Discovery:
    peer: str
    url: str
    title: str
    api_roots: tuple[ApiRootInfo, ...]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CollectionPull:
    collection: str
    pages: int = 0
    received: int = 0
    new: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    cursor: str | None = None
    stopped: str | None = None  # why paging ended early (a repeated ``next``)


@dataclass
class PullResult:
    peer: str
    collections: list[CollectionPull]

    def as_dict(self) -> dict[str, Any]:
        return {"peer": self.peer, "collections": [asdict(c) for c in self.collections]}


@dataclass
class PushResult:
    peer: str
    sent: int = 0
    already: int = 0
    waiting: int = 0
    failed: int = 0
    pending: int = 0
    withheld: int = 0
    envelopes: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TaxiiExchange:
    """Discover, pull from and push to the partners of sectors.yaml over TAXII 2.1."""

    def __init__(self, context: Context, *, sharing: Sharing, incidents: IncidentDesk) -> None:
        self.context = context
        self.sharing = sharing
        self.incidents = incidents

    # -- connecting ------------------------------------------------------------------------

    def _endpoint(self, peer: str) -> tuple[Partner, TaxiiEndpoint]:
        community = self.context.community
        partner = community.partner(peer)
        if partner.taxii is None:
            raise InvalidValue(f"partner '{peer}' has no taxii endpoint in {community.source}")
        return partner, partner.taxii

    def _connection(self, peer: str, limits: PeerLimits | None = None) -> Any:
        """taxii2-client's connection over a BoundedSession (cirt.bounded_http): timeouts, the
        run's deadline, capped bodies, credentials only to the origins sectors.yaml declares."""
        _, endpoint = self._endpoint(peer)
        creds = peer_credentials(self.context, peer)
        conn = _HTTPConnection(user=creds.user, password=creds.password, version="2.1")
        session = BoundedSession(
            peer,
            limits or self.peer_limits(peer),
            {origin(endpoint.discovery), origin(endpoint.api_root)},
            insecure=endpoint.insecure,
        )
        session.auth, session.headers = conn.session.auth, conn.session.headers
        conn.session = session
        return conn

    def peer_limits(
        self, peer: str, *, read_timeout: float | None = None, deadline: float | None = None
    ) -> PeerLimits:
        """The partner's limits from sectors.yaml; a page never larger than config.toml's import
        max_bytes either (every inbound path has the same ceiling)."""
        _, endpoint = self._endpoint(peer)
        return PeerLimits(
            read_timeout=read_timeout or endpoint.read_timeout,
            deadline=deadline or endpoint.deadline,
            max_body_bytes=min(endpoint.max_body_bytes, self.context.config.limits.max_bytes),
            max_pages=endpoint.max_pages,
            max_objects=endpoint.max_objects,
        )

    def _api_root(self, peer: str, limits: PeerLimits | None = None) -> ApiRoot:
        _, endpoint = self._endpoint(peer)
        return ApiRoot(endpoint.api_root, conn=self._connection(peer, limits))

    # -- discover --------------------------------------------------------------------------

    def discover(self, peer: str, limits: PeerLimits | None = None) -> Discovery:
        """The partner's server, its API roots and collections, and what we may read and write.

        An API root on another origin than sectors.yaml declares is listed but not contacted:
        our credentials go nowhere else.
        """
        _, endpoint = self._endpoint(peer)
        conn = self._connection(peer, limits)
        declared = {origin(endpoint.discovery), origin(endpoint.api_root)}
        roots = []
        with _remote(peer, "discovery"):
            server = Server(endpoint.discovery, conn=conn)
            title = server.title
            urls = [r.url for r in server.api_roots]
            if endpoint.api_root not in urls:
                urls.append(endpoint.api_root)
            for url in urls:
                if origin(url) not in declared:
                    roots.append(
                        ApiRootInfo(url, "not contacted: another origin than sectors.yaml declares", 0, ())
                    )
                    continue
                root = ApiRoot(url, conn=conn)
                collections = []
                for c in root.collections:
                    roles = []
                    if url == endpoint.api_root and c.id in endpoint.pull_collections:
                        roles.append("pull")
                    if url == endpoint.api_root and c.id == endpoint.push_collection:
                        roles.append("push")
                    collections.append(
                        CollectionInfo(c.id, c.title, bool(c.can_read), bool(c.can_write), ", ".join(roles))
                    )
                roots.append(
                    ApiRootInfo(url, root.title or "", int(root.max_content_length or 0), tuple(collections))
                )
        return Discovery(peer, endpoint.discovery, title or "", tuple(roots))

    # -- pull ------------------------------------------------------------------------------

    def pull(
        self,
        peer: str,
        *,
        collection: str | None = None,
        since: str | None = None,
        progress: Progress | None = None,
        page_size: int = PAGE_SIZE,
        limits: PeerLimits | None = None,
    ) -> PullResult:
        """Fetch what is new in the partner's collections; each page stored, then the cursor
        moved.

        ``since`` overrides the saved cursor (and the cursor is still advanced).  A page is
        stored before the cursor moves past it, so an interrupted pull resumes where it stopped;
        after an interruption the first request overlaps the last page by one microsecond, in
        case the peer gave several objects the same ``date_added``, and what was already stored
        is skipped.
        """
        _, endpoint = self._endpoint(peer)
        if since is not None:
            try:
                since = format_ts_micro(parse_ts(since))
            except ValueError:
                raise InvalidValue(
                    f"--since '{since}' is not an RFC 3339 UTC time such as 2026-03-01T00:00:00Z"
                ) from None
        wanted = [collection] if collection else list(endpoint.pull_collections)
        if not wanted:
            raise InvalidValue(f"partner '{peer}' has no pull_collections; give --collection")
        limits = limits or self.peer_limits(peer)
        root = self._api_root(peer, limits)
        results = []
        for collection_id in wanted:
            target = _collection(root, collection_id, peer)
            results.append(self._pull_collection(peer, target, since, progress, page_size, limits))
        return PullResult(peer, results)

    def _pull_collection(
        self,
        peer: str,
        collection: Collection,
        since: str | None,
        progress: Progress | None,
        page_size: int,
        limits: PeerLimits,
    ) -> CollectionPull:
        store = self.context.store
        collection_id = collection.id
        result = CollectionPull(collection_id)
        saved = store.taxii_cursor(peer, collection_id)
        start = since
        if start is None and saved is not None:
            start, complete = saved
            if not complete:
                start = format_ts_micro(parse_ts(start) - timedelta(microseconds=1))
        result.cursor = saved[0] if saved else None
        params: dict[str, Any] = {"limit": page_size}
        if start:
            params["added_after"] = start
        previous: set[tuple[str, str]] = set()  # the last page's objects: a repeat is no progress
        token: str | None = None
        last_seen: str | None = None
        provenance = Provenance("taxii", peer, collection_id)
        while True:
            if result.pages >= limits.max_pages or result.received >= limits.max_objects:
                result.stopped = (
                    f"the partner's cap of {limits.max_pages:,} pages or "
                    f"{limits.max_objects:,} objects in one run was reached"
                )
                break
            query = dict(params)
            if token:
                query["next"] = token
            envelope, objects, last_added = self._get_page(collection, query, peer, provenance)
            result.pages += 1
            result.received += len(objects)
            keys = {_key(o) for o in objects}
            if objects and keys <= previous:
                result.stopped = "the server answered a page it had already sent"
                break
            previous = keys
            summary = ingest(self.context, objects, provenance)
            result.new += summary.new
            result.updated += summary.updated
            result.duplicates += summary.duplicates
            result.rejected += [{"id": ref, "reason": reason} for ref, reason in summary.rejected]
            result.conflicts += [{"id": ref, "reason": reason} for ref, reason in summary.conflicts]
            more = bool(envelope.get("more")) and bool(objects)
            if last_added:
                result.cursor = max(result.cursor or "", last_added)
            if result.cursor:
                store.set_taxii_cursor(
                    peer,
                    collection_id,
                    result.cursor,
                    complete=not more,
                    now=format_ts_micro(self.context.clock()),
                )
            if progress is not None:
                progress(len(objects), f"{peer} {collection_id[:8]}")
            if not more:
                break
            next_token = envelope.get("next")
            if isinstance(next_token, str) and next_token and next_token == token and last_added == last_seen:
                # medallion repeats its token while date_added moves on; the same token with the
                # same last date_added is a peer going round (with fresh objects or not)
                result.stopped = "the server repeated its 'next' token without moving on"
                break
            last_seen = last_added
            if isinstance(next_token, str) and next_token:
                token = next_token
            elif last_added and last_added != params.get("added_after"):
                params["added_after"] = last_added  # a server without 'next': page by date
                token = None
            else:
                result.stopped = "the server said 'more' but gave no way to the next page"
                break
        if result.stopped and result.cursor:
            store.set_taxii_cursor(
                peer, collection_id, result.cursor, complete=True, now=format_ts_micro(self.context.clock())
            )
        return result

    def _get_page(
        self, collection: Collection, query: dict[str, Any], peer: str, provenance: Provenance
    ) -> tuple[dict[str, Any], list[Any], str | None]:
        """One page, read as bytes by the parser of every inbound path (``cirt.ingest``)."""
        with _remote(peer, f"reading collection {collection.id}"):
            session = collection._conn.session  # a BoundedSession (see _connection)
            response = session.get(
                collection.objects_url, params=query, headers={"Accept": TAXII_MEDIA}, stream=True
            )
            with response:
                response.raise_for_status()
                last = response.headers.get("X-TAXII-Date-Added-Last")
                if last:
                    last = format_ts_micro(parse_ts(last))
                content = session.read_body(response)
        try:
            envelope, objects = envelope_objects(
                self.context, content, f"a page of collection {collection.id}", provenance
            )
        except InputRejected as exc:
            raise RemoteError(f"{peer}: {exc}") from None
        return envelope, objects, last

    # -- push ------------------------------------------------------------------------------

    def push(
        self,
        peer: str,
        *,
        incident: str | None = None,
        since: str | None = None,
        status_timeout: float = STATUS_TIMEOUT,
    ) -> PushResult:
        """Send what the gate lets the partner have and it does not have yet; retry what is due.

        Candidates: an incident and what it links, or the newest versions of our own objects
        (added after ``since``); objects received from peers are not echoed back.

        Each envelope fits the partner's ``max_content_length``; its status is polled until
        complete; every object's outcome is recorded, so a re-run sends nothing twice.
        """
        store = self.context.store
        _, endpoint = self._endpoint(peer)
        if endpoint.push_collection is None:
            raise InvalidValue(f"partner '{peer}' has no push_collection in {self.context.community.source}")
        rows = self._push_candidates(incident, since)
        now = format_ts_micro(self.context.clock())
        due = {(r.object_id, r.modified) for r in store.retry_due(peer, now)}
        for key in due:
            row = store.get(*key)
            if row is not None and all((r.id, r.modified) != key for r in rows):
                rows.append(row)
        records = store.push_records(peer, [(r.id, r.modified) for r in rows])
        result = PushResult(peer)
        todo = []
        for row in rows:
            record = records.get((row.id, row.modified))
            if record is None or (record.object_id, record.modified) in due:
                todo.append(row)
            elif record.state == "sent":
                result.already += 1
            else:
                result.waiting += 1  # failed or pending, its backoff not over yet
        if not todo:
            return result
        disclosure = Gatekeeper(self.context, self.sharing).release_for_push(todo, peer)
        result.withheld = len(disclosure.withheld)
        if not disclosure.released:
            return result
        objects = [dict(o) for o in disclosure.objects]
        known = store.push_records(peer, [(o["id"], version_of(o)) for o in objects])
        objects = [
            o
            for o in objects
            if (o["id"], version_of(o)) not in known or known[(o["id"], version_of(o))].state != "sent"
        ]
        root = self._api_root(peer)
        target = _collection(root, endpoint.push_collection, peer)
        with _remote(peer, "reading the API root"):
            limit = int(root.max_content_length or 0)
        envelopes, too_big = cut_envelopes(objects, limit)
        outcomes: list[PushRecord] = []

        def outcome_of(obj: dict[str, Any], state: str, message: str) -> PushRecord:
            return _record(peer, obj, state, known, message, self.context.clock())

        def settle(records: list[PushRecord]) -> None:
            """Each envelope's outcome is stored as soon as it is known: a crash loses none."""
            store.record_push(records)
            outcomes.extend(records)

        settle(
            [
                outcome_of(obj, "failed", f"larger than the partner's max_content_length ({limit} bytes)")
                for obj in too_big
            ]
        )
        broken: str | None = None
        for envelope in envelopes:
            if broken is not None:
                settle([outcome_of(o, "pending", broken) for o in envelope])
                continue
            # Pending before it leaves: killed mid-POST, the next run sends it again (the
            # partner keeps one copy of a version; "already present" then counts as sent).
            store.record_push(
                [
                    replace(r, next_attempt=r.last_attempt)  # due at once
                    for r in (outcome_of(o, "pending", "being sent") for o in envelope)
                ]
            )
            try:
                settle(self._send(peer, target, envelope, known, status_timeout))
                result.envelopes += 1
            except RemoteError as exc:
                broken = str(exc)
                settle([outcome_of(o, "pending", broken) for o in envelope])
        for outcome in outcomes:
            if outcome.state == "sent":
                result.sent += 1
            elif outcome.state == "pending":
                result.pending += 1
            else:
                result.failed += 1
            if outcome.state != "sent":
                result.failures.append({"id": outcome.object_id, "message": outcome.message})
        return result

    def _push_candidates(self, incident: str | None, since: str | None) -> list[StoredObject]:
        store = self.context.store
        if incident is not None:
            found = self.incidents.get(incident)
            ids = [found.id, *store.linked(found.id)]
            return store.latest_many(ids)
        if since is not None:
            try:
                since = format_ts_micro(parse_ts(since))
            except ValueError:
                raise InvalidValue(f"--since '{since}' is not an RFC 3339 UTC time") from None
        return list(store.latest_objects(since=since, origin=LOCAL))  # ours, not peers' echoes

    def _send(
        self,
        peer: str,
        target: Collection,
        objects: list[dict[str, Any]],
        known: dict[tuple[str, str], PushRecord],
        timeout: float,
    ) -> list[PushRecord]:
        """POST one envelope, poll its status until complete (or the timeout), record each
        object."""
        with _remote(peer, f"posting to collection {target.id}"):
            status = target.add_objects(_envelope_text(objects), wait_for_completion=False)
            status.refresh()  # the status resource, not only the POST's answer, says what happened
            delay, waited = 0.1, 0.0
            while status.status != "complete" and waited < timeout:
                time.sleep(delay)
                waited += delay
                delay = min(delay * 2, 5.0)
                status.refresh()
            successes = {(s.get("id"), s.get("version")) for s in status.successes or []}
            success_ids = {s.get("id") for s in status.successes or []}
            failures = {
                s.get("id"): str(s.get("message") or "refused by the partner") for s in status.failures or []
            }
            pendings = {s.get("id") for s in status.pendings or []}
            complete = status.status == "complete"
            clean = complete and not status.failure_count
        clock = self.context.clock
        out = []
        for obj in objects:
            object_id, version = obj["id"], version_of(obj)
            if object_id in failures and _already_there(peer, target, object_id, version):
                out.append(_record(peer, obj, "sent", known, "already present at the partner", clock()))
            elif object_id in failures:
                out.append(_record(peer, obj, "failed", known, failures[object_id], clock()))
            elif (
                (object_id, version) in successes
                or object_id in success_ids
                or (clean and object_id not in pendings)
            ):
                out.append(_record(peer, obj, "sent", known, "", clock()))
            else:
                out.append(
                    _record(
                        peer, obj, "pending", known, "the partner had not finished processing it", clock()
                    )
                )
        return out


# -- helpers ---------------------------------------------------------------------------


@contextmanager
def _remote(peer: str, doing: str) -> Iterator[None]:
    """Turn whatever the network or taxii2-client raises into one line about the partner."""
    try:
        yield
    except requests.HTTPError as exc:
        response = exc.response
        code = response.status_code if response is not None else "?"
        detail = ""
        if response is not None:
            try:
                detail = ": " + str(response.json().get("description", ""))[:200]
            except ValueError:
                detail = ""
        raise RemoteError(f"{peer}: {doing} failed: HTTP {code}{detail}") from None
    except requests.RequestException as exc:
        raise RemoteError(f"{peer}: {doing} failed: {type(exc).__name__}: {str(exc)[:200]}") from None
    except (TAXIIServiceException, ValueError, KeyError, TypeError) as exc:
        raise RemoteError(f"{peer}: {doing} failed: {str(exc)[:200]}") from None


def _collection(root: ApiRoot, collection_id: str, peer: str) -> Collection:
    with _remote(peer, "listing collections"):
        for collection in root.collections:
            if collection.id == collection_id:
                return collection
    raise RemoteError(
        f"{peer}: the API root {root.url} has no collection {collection_id} that our credentials can see"
    )


def _key(obj: Any) -> tuple[str, str]:
    if not isinstance(obj, dict):
        return ("", repr(obj)[:200])
    return (str(obj.get("id")), str(obj.get("modified") or obj.get("created") or ""))


def backoff(attempts: int) -> timedelta:
    """How long to wait before retrying after ``attempts`` tries: 1, 2, 4 … minutes, 1 day most."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(days=1))


def cut_envelopes(
    objects: list[dict[str, Any]], limit: int
) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    """Envelopes whose JSON body fits in ``limit`` bytes (0: no limit); and objects too big alone."""
    envelopes: list[list[dict[str, Any]]] = []
    too_big: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    size = ENVELOPE_OVERHEAD
    for obj in objects:
        length = len(canonical_json(obj).encode("utf-8"))
        if limit and ENVELOPE_OVERHEAD + length > limit:
            too_big.append(obj)
            continue
        extra = length + (1 if current else 0)
        if current and limit and size + extra > limit:
            envelopes.append(current)
            current, size = [], ENVELOPE_OVERHEAD
            extra = length
        current.append(obj)
        size += extra
    if current:
        envelopes.append(current)
    return envelopes, too_big


def _envelope_text(objects: list[dict[str, Any]]) -> str:
    return '{"objects":[' + ",".join(canonical_json(o) for o in objects) + "]}"


def _already_there(peer: str, target: Collection, object_id: str, version: str) -> bool:
    """Whether a version the partner refused is in its collection already (a re-send after a
    crash: medallion, for one, answers "Unable to process object" to a version it holds)."""
    if not target.can_read:
        return False
    with _remote(peer, f"reading {object_id} back"):
        try:
            found = target.get_object(object_id, version=version)
        except requests.HTTPError:  # 404: not there
            return False
    return any(
        isinstance(o, dict) and o.get("id") == object_id and version_of(o) == version
        for o in (found or {}).get("objects", [])
    )


def _record(
    peer: str,
    obj: dict[str, Any],
    state: str,
    known: dict[tuple[str, str], PushRecord],
    message: str,
    now: datetime,
) -> PushRecord:
    key = (obj["id"], version_of(obj))
    attempts = (known[key].attempts if key in known else 0) + 1
    next_attempt = now if state == "sent" else now + backoff(attempts)
    return PushRecord(
        key[0], key[1], peer, state, attempts, format_ts_micro(now), format_ts_micro(next_attempt), message
    )
