"""Routing by assets: which organisation an inbound observable concerns (pure, no I/O).

An indicator a partner sends may name an address inside BEL's network or a sub-domain of the
bank's domain.  ``AssetIndex`` holds every declared asset of sectors.yaml (organisations' ``assets``
and partners' ``constituency``: IP ranges, domains with their sub-domains, AS numbers) and answers
"whose is this?" in a few dictionary look-ups, whatever the number of declared assets: one per
prefix length in use for an address or range, one per label for a domain.  Nothing is looked up
outside (no DNS, no whois, no BGP): an AS number matches the party that declared it, an address
the prefixes that were declared.

``observables`` reads the values a STIX object asserts: the equality and ``ISSUBSET`` comparisons of
an indicator's STIX pattern (a negated or other comparison asserts nothing about a value), or the
value of an IP, domain, URL, e-mail or autonomous-system observable.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from cirt.community import Assets, Community

# One comparison of a STIX pattern: object path, operator and a quoted string or a number.  Linear
# time: the alternatives inside the quoted string cannot both match one character.
_COMPARISON = re.compile(
    r"(?<![\w-])([a-z0-9-]+):([a-z_]+(?:\.[a-z_]+)*)\s*(NOT\s+)?(=|ISSUBSET)\s*"
    r"(?:'((?:[^'\\]|\\.)*)'|(\d+))")
_UNESCAPE = re.compile(r"\\(.)")
_ADDRESS_PATHS = frozenset({("ipv4-addr", "value"), ("ipv6-addr", "value")})
_DOMAIN_PATHS = frozenset({("domain-name", "value"), ("url", "value"), ("email-addr", "value"),
                           ("email-message", "from_ref.value"), ("email-message", "sender_ref.value")})
_SCO_TYPES = frozenset({"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr",
                        "autonomous-system"})
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
        if obj.get("pattern_type", "stix") != "stix" or not isinstance(obj.get("pattern"), str):
            return []
        found = list(_from_pattern(obj["pattern"]))
        return found if len(found) < 2 else list(dict.fromkeys(found))
    if kind in _SCO_TYPES:
        if kind == "autonomous-system":
            number = obj.get("number")
            return [Observable("asn", str(number))] if isinstance(number, int) else []
        value = obj.get("value")
        one = _classify(kind, "value", value) if isinstance(value, str) else None
        return [one] if one else []
    return []


def _from_pattern(pattern: str) -> Iterator[Observable]:
    for m in _COMPARISON.finditer(pattern):
        if m[3]:  # NOT =, NOT ISSUBSET
            continue
        if m[6] is not None:
            if m[1] == "autonomous-system" and m[2] == "number":
                yield Observable("asn", str(int(m[6])))
            continue
        text = _UNESCAPE.sub(r"\1", m[5]) if "\\" in m[5] else m[5]
        found = _classify(m[1], m[2], text)
        if found:
            yield found


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
    parsed = _parse_ip(text.strip())
    if parsed is None:
        return None
    version, number, length = parsed
    bits = 32 if version == 4 else 128
    family = socket.AF_INET if version == 4 else socket.AF_INET6
    address = socket.inet_ntop(family, number.to_bytes(bits // 8, "big"))
    return address if length == bits else f"{address}/{length}"


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
    """Every declared asset, indexed for look-ups that do not grow with the number of assets."""

    def __init__(self) -> None:
        # per IP version: {prefix length: {network >> host bits: [(party, asset text)]}}, and
        # the same as (prefix length, host bits, table) in order of length, for the look-ups
        self._prefixes: dict[int, dict[int, dict[int, list[tuple[str, str]]]]] = {4: {}, 6: {}}
        self._tables: dict[int, tuple[tuple[int, int, dict[int, list[tuple[str, str]]]], ...]] = {
            4: (), 6: ()}
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
        version, bits = network.version, network.max_prefixlen
        host_bits = bits - network.prefixlen
        by_length = self._prefixes[version].setdefault(network.prefixlen, {})
        by_length.setdefault(int(network.network_address) >> host_bits, []).append(
            (party, str(network)))
        self._tables[version] = tuple((length, bits - length, table) for length, table
                                      in sorted(self._prefixes[version].items()))

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
        version, number, own = parsed
        hits: list[tuple[str, str]] = []
        for length, host_bits, table in self._tables[version]:
            if length > own:
                break
            found = table.get(number >> host_bits)
            if found:
                hits.extend(found)
        return hits

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
            name = name[dot + 1:]

    def route(self, obj: Mapping[str, Any]) -> list[Match]:
        """The matches of every routable value an object asserts."""
        return [m for observable in observables(obj) for m in self.match(observable)]
