"""HTTP to a partner that cannot exhaust us: timeouts, a deadline, capped bodies, one origin.

Every request a TAXII exchange makes (taxii2-client's discovery, collections, ``add_objects``
and status calls, and our own page reads) goes through a ``BoundedSession``; every request
PyMISP makes carries a ``BoundedAuth``, which applies the same ``PeerBounds``:

* connect and read timeouts on every request, never longer than what is left of the run's
  deadline, and the deadline checked again between the pieces of a body (a peer sending a byte
  a second passes every read timeout, not the deadline);
* a body is read piece by piece and refused past ``max_body_bytes`` *after* decompression, so a
  gzip body that inflates to gigabytes costs at most the cap;
* credentials go only to the origins sectors.yaml declares for the partner: a discovery answer
  naming an API root elsewhere does not get our password;
* plain ``http://`` only to a loopback address, unless the partner is marked ``insecure``.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError

from cirt.errors import RemoteError

PIECE = 1 << 16
RETRIES = 3  # attempts of an idempotent request


@dataclass(frozen=True)
class PeerLimits:
    """What one run against one partner may cost (from its ``taxii:`` entry in sectors.yaml)."""

    read_timeout: float  # seconds any single read may wait
    deadline: float  # seconds for the whole run
    max_body_bytes: int  # one response, decompressed
    max_pages: int  # pages of one collection in one run
    max_objects: int  # objects of one collection in one run
    connect_timeout: float = 10.0  # seconds to open a connection


def origin(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(peer: str, url: str, *, insecure: bool) -> None:
    """Plain HTTP carries the partner's password in clear: only on this machine, or when
    sectors.yaml says ``insecure: true`` for the partner (which ``cirt check`` reports)."""
    scheme = urlsplit(url).scheme
    if scheme == "https" or (scheme == "http" and (insecure or is_loopback_url(url))):
        return
    if scheme == "http":
        raise RemoteError(
            f"{peer}: {url} is plain HTTP to another machine: use https, or set "
            "'insecure: true' for the partner in sectors.yaml"
        )
    raise RemoteError(f"{peer}: {url} is not an http(s) URL")


class DeadlineExceeded(RemoteError):
    """The run took longer than its deadline."""


class PeerBounds:
    """The bounds of one run against one partner, shared by ``BoundedSession`` and
    ``BoundedAuth``: the deadline, where requests may go, how a body is read."""

    def __init__(self, peer: str, limits: PeerLimits, origins: set[str], *, insecure: bool = False) -> None:
        self.peer, self.limits, self.origins, self.insecure = peer, limits, origins, insecure
        self.deadline_at = time.monotonic() + limits.deadline

    def remaining(self) -> float:
        left = self.deadline_at - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(
                f"{self.peer}: stopped at the deadline of {self.limits.deadline:g} s for this run"
            )
        return left

    def check_target(self, target: str) -> None:
        """Refused before anything is sent: a transport or an origin sectors.yaml does not allow."""
        check_transport(self.peer, target, insecure=self.insecure)
        if origin(target) not in self.origins:
            raise RemoteError(
                f"{self.peer}: {target} is on another origin than sectors.yaml "
                "declares for this partner; our credentials are not sent there"
            )

    def read_body(self, response: requests.Response) -> bytes:
        """The body, decompressed, piece by piece: refused past the cap or the deadline."""
        cap = self.limits.max_body_bytes
        pieces: list[bytes] = []
        size = 0
        raw = response.raw
        while True:
            self.remaining()
            try:
                piece = raw.read1(PIECE, decode_content=True)
            except ReadTimeoutError:
                raise RemoteError(
                    f"{self.peer}: {response.url}: read timed out (nothing for "
                    f"{self.limits.read_timeout:g} s)"
                ) from None
            except (ProtocolError, DecodeError, OSError) as exc:
                raise RemoteError(
                    f"{self.peer}: {response.url}: the body broke off: {str(exc)[:200]}"
                ) from None
            if not piece:
                return b"".join(pieces)
            size += len(piece)
            if size > cap:
                response.close()
                raise RemoteError(
                    f"{self.peer}: {response.url} sent more than {cap:,} bytes "
                    "in one response (the partner's max_body_bytes)"
                )
            pieces.append(piece)


class BoundedSession(PeerBounds, requests.Session):
    """A requests session bounded in time and bytes, credentials only for declared origins."""

    def __init__(self, peer: str, limits: PeerLimits, origins: set[str], *, insecure: bool = False) -> None:
        requests.Session.__init__(self)
        PeerBounds.__init__(self, peer, limits, origins, insecure=insecure)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Every request of the session (``get``, ``post``, and clients that prepare their
        own) passes here."""
        self.check_target(str(request.url))
        streamed = bool(kwargs.get("stream", False))
        kwargs["stream"] = True
        kwargs["allow_redirects"] = False  # a redirect could lead the credentials elsewhere
        response = self._send_with_retries(request, kwargs)
        if not streamed:
            try:
                response._content = self.read_body(response)
            finally:
                response.close()
        return response

    def _send_with_retries(
        self, request: requests.PreparedRequest, kwargs: dict[str, Any]
    ) -> requests.Response:
        """A GET (idempotent) is tried again after a failed connection, a timeout or a 502,
        503 or 504, with backoff (1, 2, 4 s, or the peer's Retry-After), within the deadline;
        a POST is sent once."""
        attempts = RETRIES if request.method == "GET" else 1
        attempt = 1
        while True:
            left = self.remaining()
            kwargs["timeout"] = (min(self.limits.connect_timeout, left), min(self.limits.read_timeout, left))
            try:
                response = super().send(request, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                if attempt >= attempts:
                    raise
                self._pause(2.0 ** (attempt - 1))
                attempt += 1
                continue
            if response.status_code not in (502, 503, 504) or attempt >= attempts:
                return response
            wait = response.headers.get("Retry-After", "")
            response.close()
            self._pause(float(wait) if wait.isdigit() else 2.0 ** (attempt - 1))
            attempt += 1

    def _pause(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self.remaining() - 0.001)))


class BoundedAuth(PeerBounds, AuthBase):
    """The same bounds for a client that keeps its own requests session (PyMISP): given as its
    ``auth``, it sees every request before it leaves (deadline, transport, origin) and every
    response before its body is read (refused past the cap; a redirect is not followed). The
    client's own timeout applies to each request; give it ``timeouts()``. The credentials stay
    the client's."""

    def timeouts(self) -> tuple[float, float]:
        return (self.limits.connect_timeout, self.limits.read_timeout)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        self.remaining()
        self.check_target(str(request.url))
        request.register_hook("response", self._read_bounded)
        return request

    def _read_bounded(self, response: requests.Response, **_: Any) -> requests.Response:
        try:
            if response.is_redirect:
                raise RemoteError(
                    f"{self.peer}: {response.url} answered with a redirect, "
                    "which is not followed (it could lead the credentials elsewhere)"
                )
            response._content = self.read_body(response)
        finally:
            response.close()
        return response
