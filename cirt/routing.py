"""Routing by assets: which organisation an inbound observable concerns (pure, no I/O).

An indicator a partner sends may name an address inside BEL's network or a sub-domain of the
bank's domain.  ``AssetIndex`` holds every declared asset of sectors.yaml (organisations' ``assets``
and partners' ``constituency``: IP ranges, domains with their sub-domains, AS numbers) and answers
"whose is this?" without scanning them: one binary search over the declared ranges cut into
disjoint intervals for an address or range, one dictionary look-up per label for a domain, one
for an AS number.  Nothing is looked up
outside (no DNS, no whois, no BGP): an AS number matches the party that declared it, an address
the prefixes that were declared.

``observables`` reads the values a STIX object asserts: the ``=``, ``IN`` and ``ISSUBSET`` comparisons of
an indicator's STIX pattern (a negated or other comparison asserts nothing about a value), or the
value of an IP, domain, URL, e-mail or autonomous-system observable.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from bisect import bisect_right
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from cirt.community import Assets, Community

# One comparison of a STIX pattern: object path, operator and a quoted string or a number.  Linear
# time: the alternatives inside the quoted string cannot both match one character.
_COMPARISON = re.compile(
    r"(?<![\w-])([a-z0-9-]+):([a-z_]+(?:\.[a-z_]+)*)\s*(NOT\s+)?(=|ISSUBSET|IN)\s*"
    r"(?:'((?:[^'\\]|\\.)*)'|(\d+)|\(([^()]*)\))"
)
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'|(\d+)")
_UNESCAPE = re.compile(r"\\(.)")
_ADDRESS_PATHS = frozenset({("ipv4-addr", "value"), ("ipv6-addr", "value")})
_DOMAIN_PATHS = frozenset(
    {
        ("domain-name", "value"),
        ("url", "value"),
        ("email-addr", "value"),
        ("email-message", "from_ref.value"),
        ("email-message", "sender_ref.value"),
    }
)
_SCO_TYPES = frozenset({"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "autonomous-system"})
_URL_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^/?#@]*@)?(\[[0-9a-f:.]+\]|[^/?#:]+)", re.I)


class Observable(NamedTuple):
    """A value an object asserts, in routing's terms: kind ``ip`` (an address or range),
    ``domain`` or ``asn``; ``value`` is its normalised text (what "seen before" compares).
    (Named tuples: routing makes one or more per inbound indicator, and they cost less.)"""

    kind: str
    value: str


class Match(NamedTuple):
    """An observable that falls in a party's declared asset."""

    party: str
    observable: Observable
    asset: str


def observables(obj: Mapping[str, Any]) -> list[Observable]:
    """The routable values of an indicator's STIX pattern or of a cyber-observable."""
    kind = obj.get("type")
    if kind == "indicator":
        pattern = obj.get("pattern")
        if obj.get("pattern_type", "stix") != "stix" or not isinstance(pattern, str):
            return []
        if (
            ":value" not in pattern
            and "from_ref.value" not in pattern
            and "sender_ref.value" not in pattern
            and "autonomous-system:" not in pattern
        ):
            return []  # hashes, file names, processes…: nothing routable, skip the scan
        found = _from_pattern(pattern)
        return found if len(found) < 2 else list(dict.fromkeys(found))
    if kind in _SCO_TYPES:
        if kind == "autonomous-system":
            number = obj.get("number")
            return [Observable("asn", str(number))] if isinstance(number, int) else []
        value = obj.get("value")
        one = _classify(kind, "value", value) if isinstance(value, str) else None
        return [one] if one else []
    return []


def _from_pattern(pattern: str) -> list[Observable]:
    found = []
    for sco_type, path, negated, operator, text, number, listed in _COMPARISON.findall(pattern):
        if negated or (operator == "IN") != bool(listed):  # NOT …; IN takes a list, = a value
            continue
        literals = _LITERAL.findall(listed) if listed else [(text, number)]
        for one_text, one_number in literals:
            if one_number:
                if sco_type == "autonomous-system" and path == "number":
                    found.append(Observable("asn", str(int(one_number))))
                continue
            one = _classify(sco_type, path, _UNESCAPE.sub(r"\1", one_text) if "\\" in one_text else one_text)
            if one:
                found.append(one)
    return found


def _classify(sco_type: str, path: str, text: str) -> Observable | None:
    if (sco_type, path) in _ADDRESS_PATHS:
        network = _network(text)
        return Observable("ip", network) if network else None
    if (sco_type, path) not in _DOMAIN_PATHS:
        return None
    if sco_type == "url":
        host = _URL_HOST.match(text.strip())
        if not host:
            return None
        name = host[1].strip("[]")
        network = _network(name)
        return Observable("ip", network) if network else _domain(name)
    if sco_type in ("email-addr", "email-message"):
        _, at, domain = text.rpartition("@")
        return _domain(domain) if at else None
    return _domain(text)


def _domain(text: str) -> Observable | None:
    name = text.strip().lower().rstrip(".")
    if not name or " " in name or "/" in name:
        return None
    return Observable("domain", name)


def _network(text: str) -> str | None:
    """An address or range in one spelling (``192.0.2.7``, ``192.0.2.0/26``), else None."""
    text = text.strip()
    parsed = _parse_ip(text)
    if parsed is None:
        return None
    version, number, length = parsed
    if version == 4 and "/" not in text:
        return text  # inet_pton takes only the canonical dotted quad (no leading zeros)
    bits = 32 if version == 4 else 128
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    address = socket.inet_ntop(family, number.to_bytes(bits // 8, "big"))
    return address if length == bits else f"{address}/{length}"


@lru_cache(maxsize=1024)  # read when an observable is made, again when it is matched
def _parse_ip(text: str) -> tuple[int, int, int] | None:
    """(IP version, network as an int, prefix length) of an address or range (host bits
    cleared), else None.  The C socket functions: several times faster than ``ipaddress``."""
    address, slash, length_text = text.partition("/")
    try:
        if ":" in address:
            version, bits = 6, 128
            number = int.from_bytes(socket.inet_pton(socket.AF_INET6, address), "big")
        else:
            version, bits = 4, 32
            number = int.from_bytes(socket.inet_pton(socket.AF_INET, address), "big")
    except (OSError, ValueError):
        return None
    if slash:
        if not length_text.isdigit() or len(length_text) > 3 or int(length_text) > bits:
            return None
        length = int(length_text)
        number = number >> (bits - length) << (bits - length)
    else:
        length = bits
    return version, number, length


class AssetIndex:
    """Every declared asset, indexed so that a look-up costs a binary search at most."""

    def __init__(self) -> None:
        # per IP version: every declared range as (first, last, party, asset text), and the
        # same cut into disjoint elementary intervals (their starts, and the ranges covering
        # each), built on first use: one bisect finds every range around an address
        self._ranges: dict[int, list[tuple[int, int, str, str]]] = {4: [], 6: []}
        self._cuts: dict[int, tuple[list[int], list[tuple[tuple[int, str, str], ...]]] | None] = {
            4: None,
            6: None,
        }
        self._domains: dict[str, list[str]] = {}
        self._asns: dict[int, list[str]] = {}

    @classmethod
    def of(cls, community: Community) -> AssetIndex:
        """Organisations' assets and partners' constituencies of sectors.yaml."""
        index = cls()
        for org in community.organisations.values():
            index.add(org.id, org.assets)
        for partner in community.partners.values():
            index.add(partner.id, partner.constituency)
        return index

    def add(self, party: str, assets: Assets) -> None:
        for cidr in assets.ip_ranges:
            self.add_prefix(party, cidr)
        for domain in assets.domains:
            self.add_domain(party, domain)
        for asn in assets.asns:
            self._asns.setdefault(asn, []).append(party)

    def add_prefix(self, party: str, cidr: str) -> None:
        network = ipaddress.ip_network(cidr, strict=False)
        first = int(network.network_address)
        self._ranges[network.version].append((first, first + network.num_addresses - 1, party, str(network)))
        self._cuts[network.version] = None

    def _elementary(self, version: int) -> tuple[list[int], list[tuple[tuple[int, str, str], ...]]]:
        """Disjoint intervals covering every declared range: their starts, and for each the
        ranges (last address, party, asset) that cover it."""
        cuts = self._cuts[version]
        if cuts is not None:
            return cuts
        bounds = sorted({b for first, last, _, _ in self._ranges[version] for b in (first, last + 1)})
        opening: dict[int, list[tuple[int, str, str]]] = {}
        closing: dict[int, list[tuple[int, str, str]]] = {}
        for first, last, party, asset in self._ranges[version]:
            opening.setdefault(first, []).append((last, party, asset))
            closing.setdefault(last + 1, []).append((last, party, asset))
        active: dict[tuple[int, str, str], None] = {}
        starts: list[int] = []
        covering: list[tuple[tuple[int, str, str], ...]] = []
        for bound in bounds:
            for item in closing.get(bound, ()):
                active.pop(item, None)
            for item in opening.get(bound, ()):
                active[item] = None
            starts.append(bound)
            covering.append(tuple(active))
        cuts = self._cuts[version] = (starts, covering)
        return cuts

    def add_domain(self, party: str, domain: str) -> None:
        self._domains.setdefault(domain.lower().rstrip("."), []).append(party)

    def match(self, observable: Observable) -> list[Match]:
        """Every party whose declared asset the observable falls in (a range must lie wholly
        inside a declared range; a domain is the declared one or a sub-domain of it)."""
        if observable.kind == "ip":
            hits = self._match_ip(observable.value)
        elif observable.kind == "domain":
            hits = self._match_domain(observable.value)
        else:
            hits = [(p, f"AS{observable.value}") for p in self._asns.get(int(observable.value), ())]
        return [Match(party, observable, asset) for party, asset in hits]

    def _match_ip(self, text: str) -> list[tuple[str, str]]:
        parsed = _parse_ip(text)
        if parsed is None:
            return []
        version, number, length = parsed
        starts, covering = self._elementary(version)
        at = bisect_right(starts, number) - 1
        if at < 0:
            return []
        last = number + (1 << ((32 if version == 4 else 128) - length)) - 1
        # a range around the address contains the whole observed range iff it reaches its end
        return [(party, asset) for end, party, asset in covering[at] if end >= last]

    def _match_domain(self, name: str) -> list[tuple[str, str]]:
        hits: list[tuple[str, str]] = []
        domains = self._domains
        while True:
            found = domains.get(name)
            if found:
                hits.extend((party, name) for party in found)
            dot = name.find(".")
            if dot < 0:
                return hits
            name = name[dot + 1 :]

    def route(self, obj: Mapping[str, Any]) -> list[Match]:
        """The matches of every routable value an object asserts."""
        return [m for observable in observables(obj) for m in self.match(observable)]
