"""The sharing community: the national CIRT, sector organisations, partners, and what each
may send (source policies).  Pure: no file reading, no validation library.

``cirt.sectors_file`` reads and validates sectors.yaml into this model; the gate, routing,
playbooks, definitions and the exchange adapters use the model alone.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Literal

from cirt.errors import NotFound
from cirt.tlp import TLP

# The STIX 2.1 industry-sector-ov vocabulary.
INDUSTRY_SECTORS = frozenset(
    (
        "agriculture",
        "aerospace",
        "automotive",
        "chemical",
        "commercial",
        "communications",
        "construction",
        "defense",
        "education",
        "energy",
        "entertainment",
        "financial-services",
        "government",
        "emergency-services",
        "government-local",
        "government-national",
        "government-public-services",
        "government-regional",
        "healthcare",
        "hospitality-leisure",
        "infrastructure",
        "dams",
        "nuclear",
        "water",
        "insurance",
        "manufacturing",
        "mining",
        "non-profit",
        "pharmaceuticals",
        "retail",
        "technology",
        "telecommunications",
        "transportation",
        "utilities",
    )
)


@dataclass(frozen=True, kw_only=True)
class Contact:
    name: str
    email: str  # lower case
    role: str
    pgp_fingerprint: str | None = None  # 40 upper-case hexadecimal digits


@dataclass(frozen=True, kw_only=True)
class Assets:
    """Domains (lower case, no trailing dot), IP ranges and AS numbers."""

    domains: tuple[str, ...] = ()
    ip_ranges: tuple[str, ...] = ()
    asns: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Party:
    """What the national CIRT, an organisation and a partner have in common."""

    id: str
    name: str
    identity: str  # the STIX identity its data names as created_by_ref
    community: bool = False  # member of the TLP:GREEN community
    contacts: tuple[Contact, ...] = ()
    # identities besides its own that data from this party may name as created_by_ref (the
    # producers it relays)
    asserts: tuple[str, ...] = ()
    # config.toml [import] limits tightened for what this party sends (each at most this)
    import_limits: dict[str, int] = field(default_factory=dict, hash=False)

    @property
    def identities(self) -> frozenset[str]:
        """The identities data from this party may name as ``created_by_ref``."""
        return frozenset((self.identity, *self.asserts))

    def as_dict(self) -> dict[str, Any]:
        """Every field as plain data (``cirt sector show``)."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class NationalCirt(Party):
    community: bool = True
    timezone: str = "America/Belize"


@dataclass(frozen=True, kw_only=True)
class Organisation(Party):
    sector: str  # of the STIX industry-sector vocabulary
    cirt: str | None = None
    role: Literal["constituent", "referral"] = "constituent"
    plain_mail: bool = False  # AMBER+ bulletins may go unencrypted
    assets: Assets = Assets()


@dataclass(frozen=True, kw_only=True)
class TaxiiEndpoint:
    """A partner's TAXII server, and what one run against it may cost (``cirt.bounded_http``);
    plain http:// to another machine only with ``insecure``, which ``cirt check`` reports."""

    discovery: str
    api_root: str
    pull_collections: tuple[str, ...] = ()
    push_collection: str | None = None
    insecure: bool = False
    max_body_bytes: int = 64 << 20  # one response, decompressed
    max_pages: int = 10_000  # pages of one collection in one run
    max_objects: int = 1_000_000  # objects of one collection per run
    read_timeout: float = 60.0  # seconds any single read may wait
    deadline: float = 3600.0  # seconds for one whole run


@dataclass(frozen=True, kw_only=True)
class MispEndpoint:
    url: str
    verify_tls: bool = True


@dataclass(frozen=True, kw_only=True)
class Partner(Party):
    country: str | None = None
    max_tlp: TLP = TLP.GREEN
    constituency: Assets = Assets()  # networks the partner CIRT serves
    taxii: TaxiiEndpoint | None = None
    misp: MispEndpoint | None = None


@dataclass(frozen=True, kw_only=True)
class MarkingTreatment:
    """How the gate treats a non-TLP marking definition: as a TLP level, or withhold."""

    id: str
    name: str
    treat_as: TLP


@dataclass(frozen=True)
class SourcePolicy:
    """Which ``created_by_ref`` identities one inbound source may assert (STIX 2.1 §3.6: only
    the creator of an object versions it, so who may assert a creator may version its objects).

    A party of sectors.yaml asserts its own identity and those it declares (``asserts``).  A
    file not bound to a party (``cirt import`` without ``--source PARTY``) may assert any identity
    no party declares.  Only the CIRT's own data (its analysts, or an operator restoring the
    CIRT's own export with ``--source <national id>``) asserts the CIRT's identity.
    """

    label: str
    allowed: frozenset[str] | None  # None: any identity not reserved
    reserved: frozenset[str] = frozenset()
    own: bool = False
    # The config.toml [import] limits what this source sends is held below (sectors.yaml
    # import_limits of its party): each at most the value named here.
    limits: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def may_assert(self, identity: str) -> bool:
        if self.own:
            return True
        if self.allowed is not None:
            return identity in self.allowed
        return identity not in self.reserved


@dataclass(frozen=True)
class ContactRef:
    """A named contact and the party (organisation or partner) it belongs to."""

    party_id: str
    contact: Contact


class Community:
    """The loaded community, with the look-ups the gate, bulletins and TAXII need."""

    def __init__(
        self,
        national: NationalCirt,
        organisations: tuple[Organisation, ...],
        partners: tuple[Partner, ...] = (),
        *,
        default_tlp: TLP = TLP.AMBER,
        markings: tuple[MarkingTreatment, ...] = (),
        source: str = "sectors.yaml",
    ) -> None:
        self.source = source
        self.national = national
        self.default_tlp = default_tlp
        self.organisations = {o.id: o for o in organisations}
        self.partners = {p.id: p for p in partners}
        self.markings = markings
        self.marking_treatment = {m.id: m.treat_as for m in markings}

    def organisation(self, org_id: str) -> Organisation:
        try:
            return self.organisations[org_id]
        except KeyError:
            known = ", ".join(self.organisations)
            raise NotFound(f"organisation '{org_id}' is not in {self.source} (known: {known})") from None

    def partner(self, partner_id: str) -> Partner:
        try:
            return self.partners[partner_id]
        except KeyError:
            known = ", ".join(self.partners) or "none"
            raise NotFound(f"partner '{partner_id}' is not in {self.source} (known: {known})") from None

    def party(self, party_id: str) -> Party:
        if party_id == self.national.id:
            return self.national
        if party_id in self.organisations:
            return self.organisations[party_id]
        if party_id in self.partners:
            return self.partners[party_id]
        known = ", ".join([*self.organisations, *self.partners])
        raise NotFound(
            f"'{party_id}' is neither an organisation nor a partner in {self.source} (known: {known})"
        )

    @cached_property
    def _contacts(self) -> dict[str, ContactRef]:
        out: dict[str, ContactRef] = {}
        for party in (self.national, *self.organisations.values(), *self.partners.values()):
            for contact in party.contacts:
                out[contact.email] = ContactRef(party.id, contact)
        return out

    def contact(self, email: str) -> ContactRef:
        try:
            return self._contacts[email.lower()]
        except KeyError:
            raise NotFound(f"no contact '{email}' in {self.source}") from None

    def source_policy(self, source_kind: str, source: str) -> SourcePolicy:
        """What a source may assert: TAXII and MISP sources are parties (the credential's or the
        peer pulled from); an import names a party with ``--source``, or is unaffiliated."""
        if source_kind == "local" or (source_kind == "import" and source == self.national.id):
            return SourcePolicy(f"the national CIRT ({source})", None, own=True)
        party: Party | None = self.organisations.get(source) or self.partners.get(source)
        if party is not None:
            return SourcePolicy(
                f"{source_kind} source '{source}'",
                party.identities,
                limits=MappingProxyType(dict(party.import_limits)),
            )
        if source_kind in ("taxii", "misp"):
            return SourcePolicy(f"{source_kind} source '{source}' (not in {self.source})", frozenset())
        reserved = {self.national.identity}
        for declared in (*self.organisations.values(), *self.partners.values()):
            reserved |= declared.identities
        return SourcePolicy(
            f"{source_kind} source '{source}' (no party of {self.source})", None, frozenset(reserved)
        )

    def concerned_by(self, value: str) -> list[str]:
        """Organisations whose assets (domain, IP range, AS number) an observable value falls in."""
        return [o.id for o in self.organisations.values() if _within(o.assets, value)]

    def partners_concerned_by(self, value: str) -> list[str]:
        """Partners whose constituency an observable value falls in (a case for them to act on)."""
        return [p.id for p in self.partners.values() if _within(p.constituency, value)]


def _within(assets: Assets, value: str) -> bool:
    """Does a domain, IP address or range, or ``AS<number>`` fall within these assets?"""
    value = value.strip().lower().rstrip(".")
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    with contextlib.suppress(ValueError):
        network = ipaddress.ip_network(value, strict=False)
    if network is not None:
        return any(
            network.version == (own := ipaddress.ip_network(r, strict=False)).version
            and network.subnet_of(own)  # type: ignore[arg-type]
            for r in assets.ip_ranges
        )
    if value.startswith("as") and value[2:].isdigit():
        return int(value[2:]) in assets.asns
    return any(value == d or value.endswith("." + d) for d in assets.domains)
