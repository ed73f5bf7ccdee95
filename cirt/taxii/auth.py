"""Credentials: ours on the server (generated, stored hashed) and partners' for the client.

A server credential is a username and a generated password handed out once; the store keeps only
a salted scrypt digest.  Verifying scrypt costs tens of milliseconds on purpose, so a worker
remembers a credential it has verified (by the SHA-256 of the presented secret, never the secret)
and still checks on every request that the credential has not been revoked since.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from cirt.errors import ConfigError, NotFound
from cirt.stixtime import format_ts
from cirt.store.taxii_state import CredentialRow

if TYPE_CHECKING:
    from cirt.community import Community
    from cirt.stixtime import Clock
    from cirt.store.sql import SQLStore

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


@dataclass(frozen=True)
class IssuedCredential:
    """What ``credential add`` prints once: the password is never stored nor shown again."""

    username: str
    password: str
    party: str


def digest(password: str, salt: str) -> str:
    raw = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), **_SCRYPT)
    return raw.hex()


class Issuer(Protocol):
    """What issuing a credential needs (a ``cirt.context.Context`` has it): who may have one,
    where it is kept, and the time it is issued at."""

    @property
    def community(self) -> Community: ...
    @property
    def store(self) -> SQLStore: ...
    @property
    def clock(self) -> Clock: ...


class Secrets(Protocol):
    """Where a partner's credentials are read from (a ``cirt.context.Context``)."""

    def secret(self, name: str) -> str | None: ...


def issue_credential(issuer: Issuer, party: str) -> IssuedCredential:
    """A new credential for an organisation or partner of sectors.yaml."""
    community = issuer.community
    community.party(party)  # NotFound names the known parties
    if party == community.national.id:
        raise NotFound(f"'{party}' is ourselves: credentials are for organisations and partners")
    username = f"{party}.{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(24)
    salt = secrets.token_hex(16)
    issuer.store.add_taxii_credential(
        CredentialRow(username, party, salt, digest(password, salt), format_ts(issuer.clock()))
    )
    return IssuedCredential(username, password, party)


def revoke_credential(store: SQLStore, username: str) -> None:
    if not store.remove_taxii_credential(username):
        raise NotFound(f"no TAXII credential '{username}' (see 'cirt taxii credential list')")


class LoginThrottled(Exception):
    """Too many failed logins from one client address: refuse before checking, for a while."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after} s")
        self.retry_after = retry_after


# A username nobody has: its password is checked against this (salt, digest) pair all the same,
# so an unknown user costs one scrypt like a wrong password and the answer time tells nothing.
_DUMMY_SALT = "00" * 16
_DUMMY_DIGEST = "00" * 32

FAILED_LOGINS_ALLOWED = 10  # per client address within the window
FAILED_LOGIN_WINDOW_S = 60.0
MAX_TRACKED_ADDRESSES = 100_000  # many addresses cannot grow the table without bound


class FailedLogins:
    """Failed logins per client address in a sliding window (per worker process)."""

    def __init__(
        self,
        allowed: int = FAILED_LOGINS_ALLOWED,
        window_s: float = FAILED_LOGIN_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allowed, self.window_s, self.clock = allowed, window_s, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()  # the threads of one worker share it

    def check(self, client: str) -> None:
        """Raise LoginThrottled while ``client`` has used up its failures."""
        with self._lock:
            self._check(client)

    def _check(self, client: str) -> None:
        failures = self._failures.get(client)
        if failures is None:
            return
        horizon = self.clock() - self.window_s
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[client]  # the table holds only current offenders
        elif len(failures) >= self.allowed:
            raise LoginThrottled(max(1, math.ceil(failures[0] + self.window_s - self.clock())))

    def record(self, client: str) -> None:
        with self._lock:
            if client not in self._failures and len(self._failures) >= MAX_TRACKED_ADDRESSES:
                del self._failures[next(iter(self._failures))]  # the longest-tracked one goes
            self._failures.setdefault(client, deque()).append(self.clock())


class Authenticator:
    """Maps an ``Authorization: Basic`` header to the party it was issued to, or None."""

    def __init__(self, store: SQLStore, failed: FailedLogins | None = None) -> None:
        self.store = store
        self.failed = failed or FailedLogins()
        self._verified: dict[tuple[str, str], str] = {}

    def party_for(self, header: str | None, client: str = "") -> str | None:
        """The party, or None for no or wrong credentials (counted against ``client``)."""
        self.failed.check(client)
        if not header:
            return None  # a client that has not tried yet is no failure
        party = self._verify(header)
        if party is None:
            self.failed.record(client)
        return party

    def _verify(self, header: str) -> str | None:
        if header[:6].lower() != "basic ":
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        username, sep, password = decoded.partition(":")
        if not sep:
            return None
        row = self.store.taxii_credential(username)
        if row is None:
            hmac.compare_digest(digest(password, _DUMMY_SALT), _DUMMY_DIGEST)
            return None
        fingerprint = hashlib.sha256(f"{row.digest}:{password}".encode()).hexdigest()
        if self._verified.get((username, fingerprint)) == row.party:
            return row.party
        if not hmac.compare_digest(digest(password, row.salt), row.digest):
            return None
        self._verified[(username, fingerprint)] = row.party
        return row.party


@dataclass(frozen=True)
class PeerCredentials:
    user: str | None
    password: str | None


def secret_names(peer: str) -> tuple[str, str]:
    """The secret names of a partner's TAXII account: ``taxii_<peer>_user`` / ``_password``.

    From the environment as ``CIRT_TAXII_<PEER>_USER`` / ``CIRT_TAXII_<PEER>_PASSWORD`` (dashes
    become underscores) or from ``<workspace>/secrets.toml``.
    """
    key = peer.replace("-", "_")
    return f"taxii_{key}_user", f"taxii_{key}_password"


def peer_credentials(secrets: Secrets, peer: str) -> PeerCredentials:
    user_name, password_name = secret_names(peer)
    user, password = secrets.secret(user_name), secrets.secret(password_name)
    if bool(user) != bool(password):
        missing = password_name if user else user_name
        raise ConfigError(
            "secrets", None, missing, f"set CIRT_{missing.upper()} or '{missing}' in secrets.toml"
        )
    return PeerCredentials(user, password)
