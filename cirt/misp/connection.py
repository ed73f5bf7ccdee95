"""A partner's MISP: where it is and our key for it, and HTTP to it that cannot exhaust us.

The endpoint comes from sectors.yaml, the key from the environment or secrets.toml; every request,
PyMISP's (``BoundedAuth``) and our own REST reads (``BoundedSession``), goes only to the declared
origin, with timeouts, the run's deadline and each answer capped once decompressed
(``cirt.bounded_http``).  Every failure becomes a ``RemoteError`` naming the partner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import requests
from pymisp import PyMISP

from cirt.bounded_http import BoundedAuth, BoundedSession, PeerLimits, origin
from cirt.community import Community, MispEndpoint
from cirt.errors import NotFound, RemoteError
from cirt.limits import ImportLimits
from cirt.misp.to_stix import events_in
from cirt.untrusted_json import parse_json

PAGE = 100  # events per restSearch page
MAX_PAGES = 10_000  # a million events in one run
PULL_DEADLINE_S = 3600.0
READ_TIMEOUT_S = 30.0  # any single read from the partner's MISP


def credentials(
    community: Community, secret: Callable[[str], str | None], partner_id: str
) -> tuple[MispEndpoint, str]:
    """The partner's MISP endpoint (sectors.yaml) and API key (environment or secrets.toml)."""
    partner = community.partner(partner_id)
    if partner.misp is None:
        raise NotFound(f"partner '{partner_id}' has no misp: url in sectors.yaml")
    key = secret(f"misp_{partner_id}_key")
    if not key:
        env = "CIRT_MISP_" + partner_id.upper().replace("-", "_") + "_KEY"
        raise NotFound(f"no MISP key for '{partner_id}': set {env} or misp_{partner_id}_key in secrets.toml")
    return partner.misp, key


def misp_limits(max_body_bytes: int) -> PeerLimits:
    """What one run against a partner's MISP may cost, pull or push: the read timeout, the
    deadline, and one answer at most ``max_body_bytes`` (``[import] max_bytes``) once
    decompressed."""
    return PeerLimits(
        read_timeout=READ_TIMEOUT_S,
        deadline=PULL_DEADLINE_S,
        max_body_bytes=max_body_bytes,
        max_pages=MAX_PAGES,
        max_objects=PAGE * MAX_PAGES,
    )


def short(exc: Exception) -> str:
    """An exception as one short line (a remote answer may be long or span lines)."""
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def answer(result: Any, partner_id: str, what: str) -> Any:
    """MISP's answer, or RemoteError when it answered ``{"errors": …}`` instead."""
    if isinstance(result, Mapping) and "errors" in result:
        raise RemoteError(f"MISP of '{partner_id}' refused {what}: {short(Exception(result['errors']))}")
    return result


class PartnerMisp:
    """One run against a partner's MISP, pull or push: every answer at most ``max_body_bytes``
    once decompressed, and parsed under the partner's ``limits``."""

    def __init__(
        self, partner_id: str, endpoint: MispEndpoint, key: str, *, max_body_bytes: int, limits: ImportLimits
    ) -> None:
        self.partner_id, self.endpoint, self.key = partner_id, endpoint, key
        self.max_body_bytes, self.limits = max_body_bytes, limits
        self.name = f"MISP of '{partner_id}'"
        self.url = endpoint.url.rstrip("/")

    def client(self) -> PyMISP:
        """A PyMISP client, every request of it bounded (``BoundedAuth``: the declared origin
        only, timeouts, the deadline, each answer capped once decompressed)."""
        logging.getLogger("pymisp").setLevel(logging.CRITICAL)
        bounds = BoundedAuth(self.name, misp_limits(self.max_body_bytes), {origin(self.endpoint.url)})
        try:
            return PyMISP(
                self.endpoint.url,
                self.key,
                ssl=self.endpoint.verify_tls,
                auth=bounds,
                timeout=bounds.timeouts(),
            )
        except Exception as exc:
            cause = exc.__context__  # PyMISP wraps what failed while connecting
            if isinstance(cause, RemoteError):
                raise cause from None
            if isinstance(cause, requests.Timeout):
                raise RemoteError(
                    f"{self.name} ({self.endpoint.url}) did not answer within"
                    f" {bounds.limits.read_timeout:g} s"
                ) from None
            raise RemoteError(
                f"{self.name} ({self.endpoint.url}) is unreachable or refused the key: {short(exc)}"
            ) from None

    def session(self) -> BoundedSession:
        """A session bounded in time and bytes that speaks MISP's REST API to the partner's
        declared origin only; PyMISP reads answers whole, so pulls use this instead."""
        session = BoundedSession(self.name, misp_limits(self.max_body_bytes), {origin(self.url)})
        session.verify = self.endpoint.verify_tls
        session.headers.update(
            {
                "Authorization": self.key,
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": "cirt",
            }
        )
        return session

    def search_page(self, session: BoundedSession, cursor: int, page: int) -> list[dict[str, Any]]:
        """One page of ``events/restSearch`` changed since ``cursor`` (epoch seconds), its body
        capped as it is read (decompressed) and parsed by the parser of every inbound path
        (plain ``json`` would let the last duplicate key win and accept NaN); InputRejected
        when it is no list of MISP events."""
        query: dict[str, Any] = {"returnFormat": "json", "timestamp": cursor, "limit": PAGE, "page": page}
        try:
            response = session.post(f"{self.url}/events/restSearch", json=query)
        except (requests.RequestException, OSError) as exc:
            raise RemoteError(f"{self.name} failed the search: {short(exc)}") from None
        if response.status_code in (401, 403):
            raise RemoteError(f"{self.name} ({self.url}) refused the key: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise RemoteError(f"{self.name} failed the search: HTTP {response.status_code}")
        found = answer(parse_json(response.content, self.name, self.limits), self.partner_id, "the search")
        if not (isinstance(found, dict) and "response" in found):
            found = {"response": found}
        return events_in(found, self.name)
