"""Observable values and when two of them match. Pure: no store, no I/O.

An analyst asks "have we seen 203.0.113.45?"; the answer lies in patterns such as
``[ipv4-addr:value ISSUBSET '203.0.113.0/24']``, in observables, in a URL typed with another
capitalisation.  Every value is reduced to an ``Observable`` (a kind and a normal form) so that
matching is one rule per kind:

- ``ip``: address or CIDR range, IPv4 or IPv6; two match when one range contains the other;
- ``domain``: two match when one is the other or a subdomain of it;
- ``url``: equal after normalisation (scheme and host case, default port, dot segments,
  percent-encoding, fragment);
- ``hash``: equal hexadecimal digests, in any case;
- ``email``: equal addresses, in any case.

The store's index (``cirt.store.search_index``) holds the keys computed here; this module is the
reference its queries are checked against.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

# STIX 2.1 §2.9: the namespace of deterministic SCO ids (UUIDv5 of the id contributing properties)
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

KINDS = ("ip", "domain", "url", "hash", "email")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+"
    r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)
_HEX_LENGTHS = (32, 40, 56, 64, 96, 128)  # MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512
_HEX = re.compile(r"^[0-9a-f]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
# Octets without leading zeros (which ipaddress refuses as ambiguous); a prefix length.
_DOTTED = re.compile(
    r"(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})"
    r"(?:/(0|[1-9]\d?))?"
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# The common pattern, one comparison with a string: read without the full grammar (10x faster).
_ONE_COMPARISON = re.compile(
    r"\[\s*([a-z0-9-]+):((?:[a-z0-9_]+|'[^'\\]+')(?:\.(?:[a-z0-9_]+|'[^'\\]+'))*)\s*"
    r"(=|ISSUBSET|ISSUPERSET)\s*('(?:[^'\\]|\\.)*')\s*\]",
    re.IGNORECASE,
)
_INDEXED_OPERATORS = ("=", "IN", "ISSUBSET", "ISSUPERSET")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Object types whose ``value`` is of a known kind; elsewhere a ``*_ref(s).value`` is classified.
_TYPE_KINDS = {
    "ipv4-addr": "ip",
    "ipv6-addr": "ip",
    "domain-name": "domain",
    "url": "url",
    "email-addr": "email",
}


@dataclass(frozen=True, order=True)
class Observable:
    """A value in its normal form: ``ip`` values are networks in compressed CIDR notation."""

    kind: str
    value: str

    @property
    def network(self) -> IPNetwork:
        return ipaddress.ip_network(self.value)

    def __str__(self) -> str:
        if self.kind == "ip":
            network = self.network
            return str(network.network_address) if network.num_addresses == 1 else self.value
        return self.value


def normalise(kind: str, text: str) -> Observable | None:
    """The value in normal form, or None when it is not a valid value of that kind."""
    raw = text.strip()
    if kind == "ip":
        quick = _ipv4(raw)
        if quick is not None:  # most values: 20x cheaper than ipaddress
            number, prefix = quick
            first = number & ~((1 << (32 - prefix)) - 1) if prefix else 0
            dotted = ".".join(str(first >> s & 255) for s in (24, 16, 8, 0))
            return Observable("ip", f"{dotted}/{prefix}")
        try:
            return Observable("ip", ipaddress.ip_network(raw, strict=False).compressed)
        except ValueError:
            return None
    if kind == "domain":
        domain = raw.lower().rstrip(".")
        return Observable("domain", domain) if _DOMAIN.match(domain) else None
    if kind == "url":
        url = normalise_url(raw)
        return Observable("url", url) if url else None
    if kind == "hash":
        digest = raw.lower()
        return Observable("hash", digest) if _HEX.match(digest) and len(digest) >= 16 else None
    if kind == "email":
        address = raw.lower()
        return Observable("email", address) if _EMAIL.match(address) else None
    raise ValueError(f"unknown observable kind {kind!r}")


def classify(text: str) -> Observable | None:
    """What a search term is: an IP or range, URL, e-mail address, digest or domain (else None)."""
    raw = text.strip()
    if not raw:
        return None
    if _URL.match(raw):
        return normalise("url", raw)
    if "@" in raw:
        return normalise("email", raw)
    if (":" in raw or raw[0].isdigit()) and (found := normalise("ip", raw)):
        return found
    lowered = raw.lower()
    if len(lowered) in _HEX_LENGTHS and _HEX.match(lowered):
        return Observable("hash", lowered)
    return normalise("domain", raw)


def normalise_url(text: str) -> str | None:
    """RFC 3986 normalisation: what two spellings of one URL have in common."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if not scheme or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username is not None:
        userinfo = _percent(parts.username)
        if parts.password is not None:
            userinfo += ":" + _percent(parts.password)
        netloc = f"{userinfo}@{netloc}"
    path = _remove_dot_segments(_percent(parts.path)) or "/"
    return urlunsplit((scheme, netloc, path, _percent(parts.query), ""))


def _percent(text: str) -> str:
    """Escapes in upper case, unreserved characters unescaped, everything else kept."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%" and i + 2 < len(text) and re.fullmatch(r"[0-9A-Fa-f]{2}", text[i + 1 : i + 3]):
            decoded = unquote(text[i : i + 3])
            out.append(decoded if decoded in _UNRESERVED else text[i : i + 3].upper())
            i += 3
            continue
        out.append(char if ord(char) < 128 and char not in ' "<>\\^`{|}' else quote(char, safe=""))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    output: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(output) > 1:
                output.pop()
        elif segment != ".":
            output.append(segment)
    result = "/".join(output)
    if path.endswith(("/.", "/..")):
        result += "/"
    return result


def matches(a: Observable, b: Observable) -> bool:
    """The one matching rule, by kind (see the module docstring)."""
    if a.kind != b.kind:
        return False
    if a.kind == "ip":
        x, y = a.network, b.network
        if x.version != y.version:
            return False
        return x.subnet_of(y) or y.subnet_of(x)  # type: ignore[arg-type]
    if a.kind == "domain":
        return a.value == b.value or a.value.endswith("." + b.value) or b.value.endswith("." + a.value)
    return a.value == b.value


# --- where observable values are: patterns and objects ---------------------------------------


def pattern_values(pattern: str) -> list[Observable]:
    """The values a STIX pattern compares with ``=``, ``IN``, ``ISSUBSET`` or ``ISSUPERSET``.

    Negated comparisons, ``LIKE``, ``MATCHES`` and orderings name no value that was seen; an
    invalid pattern has no values (the validator at the door says why).
    """
    return list(_pattern_values(pattern))


@lru_cache(maxsize=4096)
def _pattern_values(pattern: str) -> tuple[Observable, ...]:
    simple = _ONE_COMPARISON.fullmatch(pattern.strip())
    if simple:
        path = [p.strip("'") for p in re.findall(r"[^.']+|'[^']+'", simple.group(2))]
        comparisons = {simple.group(1): [(path, simple.group(3).upper(), simple.group(4))]}
    else:
        # Imported here: start-up time (the ANTLR pattern grammar, ~14 ms), needed only for
        # a pattern of more than one comparison.
        from stix2patterns.v21.pattern import Pattern

        try:
            comparisons = Pattern(pattern).inspect().comparisons
        except Exception:  # the grammar's parse errors come as several exception types
            return ()
    found: list[Observable] = []
    for object_type, entries in comparisons.items():
        for path, operator, literal in entries:
            if operator not in _INDEXED_OPERATORS:
                continue
            kind = _kind_of_path(object_type, [str(p) for p in path])
            for text in _string_literals(literal):
                value = normalise(kind, text) if kind else _classify_ref_value(text)
                if value is not None:
                    found.append(value)
    return tuple(dict.fromkeys(found))


def _kind_of_path(object_type: str, path: list[str]) -> str | None:
    """The kind a path names, or None when the value has to tell (``dst_ref.value``)."""
    if path and path[0] == "hashes":
        return "hash"
    if path == ["value"] and object_type in _TYPE_KINDS:
        return _TYPE_KINDS[object_type]
    return None


def _classify_ref_value(text: str) -> Observable | None:
    """A ``*_ref.value`` (network traffic, e-mail senders): an address, URL or domain."""
    found = classify(text)
    return found if found is not None and found.kind != "hash" else None


def _string_literals(literal: str) -> Iterator[str]:
    """The quoted strings of a literal (``'a'`` or ``('a', 'b\\'c')``), unescaped, in one pass
    (a regular expression searched from every quote is quadratic on ``\\'\\'\\'…``)."""
    if "\\" not in literal:  # nothing escaped: the strings sit between quote pairs
        yield from literal.split("'")[1::2]
        return
    current: list[str] | None = None
    escaped = False
    for char in literal:
        if current is None:
            if char == "'":
                current = []
        elif escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "'":
            yield "".join(current)
            current = None
        else:
            current.append(char)


def object_values(obj: Mapping[str, Any]) -> list[Observable]:
    """The observable values an object holds: an indicator's pattern, an SCO's value or hashes,
    observed-data's embedded objects; a URL's host counts as a domain (or address) too."""
    found: list[Observable] = []
    kind = obj.get("type")
    if kind == "indicator" and obj.get("pattern_type", "stix") == "stix":
        found += pattern_values(str(obj.get("pattern", "")))
    elif kind in _TYPE_KINDS and isinstance(obj.get("value"), str):
        value = normalise(_TYPE_KINDS[str(kind)], obj["value"])
        found += [value] if value else []
    elif kind == "observed-data" and isinstance(obj.get("objects"), Mapping):
        for embedded in obj["objects"].values():
            if isinstance(embedded, Mapping):
                found += object_values(embedded)
    hashes = obj.get("hashes")
    if isinstance(hashes, Mapping):
        for digest in hashes.values():
            value = normalise("hash", str(digest))
            found += [value] if value else []
    found += [host for url in found if url.kind == "url" for host in [url_host(url)] if host]
    return list(dict.fromkeys(found))


def url_host(url: Observable) -> Observable | None:
    """The host of a normalised URL as a domain or address."""
    host = urlsplit(url.value).hostname or ""
    if ":" in host or host[:1].isdigit():  # an address (a name never parses as one: skip trying)
        address = normalise("ip", host)
        if address:
            return address
    return normalise("domain", host)


# --- index keys: how a B-tree finds every match (cirt.store.search_index) -----------------------


@dataclass(frozen=True)
class IndexEntry:
    """How one value is stored in the index: its kind there, its ordered key, its range end."""

    kind: str  # ip4 | ip6 | domain | url | hash | email
    lookup: str
    ip_end: str | None = None


@dataclass(frozen=True)
class LookupPlan:
    """The index keys that can match a value: exact keys, and one inclusive key range."""

    kind: str
    keys: tuple[str, ...]
    low: str | None = None
    high: str | None = None  # exclusive for domains (a key prefix), inclusive for addresses
    end_at_least: str | None = None  # addresses: a range found by its start must reach this far

    def admits(self, entry: IndexEntry) -> bool:
        """What the SQL query selects (tests check it against ``matches``)."""
        if entry.kind != self.kind:
            return False
        if entry.lookup in self.keys and (
            self.end_at_least is None or (entry.ip_end or "") >= self.end_at_least
        ):
            return True
        if self.low is None or self.high is None:
            return False
        if self.kind == "domain":
            return self.low <= entry.lookup < self.high
        return self.low <= entry.lookup <= self.high


def _hex(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return format(int(address), "08x" if address.version == 4 else "032x")


def _reversed_labels(domain: str) -> str:
    return ".".join(reversed(domain.split("."))) + "."


def _ipv4(text: str) -> tuple[int, int] | None:
    """(address, prefix length) of a plain dotted-quad IPv4 address or CIDR range, else None
    (anything unusual is left to ``ipaddress``)."""
    match = _DOTTED.fullmatch(text)
    if match is None:
        return None
    octets = [int(o) for o in match.group(1, 2, 3, 4)]
    prefix = int(match.group(5)) if match.group(5) is not None else 32
    if max(octets) > 255 or prefix > 32:
        return None
    return (octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3]), prefix


def index_entry(value: Observable) -> IndexEntry:
    quick = _ipv4(value.value) if value.kind == "ip" else None
    if quick is not None:
        first, prefix = quick  # a normal form: the network address
        return IndexEntry("ip4", format(first, "08x"), format(first | ((1 << (32 - prefix)) - 1), "08x"))
    if value.kind == "ip":
        network = value.network
        return IndexEntry(
            f"ip{network.version}", _hex(network.network_address), _hex(network.broadcast_address)
        )
    if value.kind == "domain":
        return IndexEntry("domain", _reversed_labels(value.value))
    return IndexEntry(value.kind, value.value)


def lookup_plan(value: Observable) -> LookupPlan:
    """Ranges holding an address are its prefix networks; the ranges inside it, a key range.
    A domain's parents are exact keys; its subdomains share its reversed labels as a prefix."""
    if value.kind == "ip":
        quick = _ipv4(value.value)
        if quick is not None:
            bits, width, (first, prefix) = 32, 8, quick
        else:
            network = value.network
            bits, width = network.max_prefixlen, 8 if network.version == 4 else 32
            first, prefix = int(network.network_address), network.prefixlen
        supernets = (format(first & ~((1 << (bits - p)) - 1), f"0{width}x") for p in range(prefix + 1))
        last = format(first | ((1 << (bits - prefix)) - 1), f"0{width}x")
        return LookupPlan(
            f"ip{4 if width == 8 else 6}",
            tuple(dict.fromkeys(supernets)),
            format(first, f"0{width}x"),
            last,
            end_at_least=last,
        )
    if value.kind == "domain":
        labels = value.value.split(".")
        parents = tuple(_reversed_labels(".".join(labels[i:])) for i in range(1, len(labels)))
        own = _reversed_labels(value.value)
        return LookupPlan("domain", parents, own, own[:-1] + "/")
    return LookupPlan(value.kind, (value.value,))
