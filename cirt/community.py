"""The sharing community of ``sectors.yaml``: the national CIRT, sector organisations, partners.

Validated models only; reading the file goes through ``cirt.yamlfile`` so that every schema error
names the file, the line and the field.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cirt.errors import NotFound
from cirt.tlp import TLP
from cirt.yamlfile import load_yaml

# The STIX 2.1 industry-sector-ov vocabulary.
INDUSTRY_SECTORS = frozenset((
    "agriculture", "aerospace", "automotive", "chemical", "commercial", "communications",
    "construction", "defense", "education", "energy", "entertainment", "financial-services",
    "government", "emergency-services", "government-local", "government-national",
    "government-public-services", "government-regional", "healthcare", "hospitality-leisure",
    "infrastructure", "dams", "nuclear", "water", "insurance", "manufacturing", "mining",
    "non-profit", "pharmaceuticals", "retail", "technology", "telecommunications",
    "transportation", "utilities",
))

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_IDENTITY = re.compile(r"^identity--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$")

Slug = Annotated[str, Field(pattern=_SLUG.pattern, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _tlp(value: object) -> TLP:
    if isinstance(value, TLP):
        return value
    if not isinstance(value, str):
        raise ValueError("a TLP label is text such as 'amber'")
    try:
        return TLP.parse(value)
    except Exception:
        raise ValueError(f"'{value}' is not a TLP label") from None


class Contact(_Strict):
    name: str = Field(min_length=1)
    email: str
    role: str = Field(min_length=1)
    pgp_fingerprint: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"'{value}' is not an e-mail address")
        return value.lower()

    @field_validator("pgp_fingerprint")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        fpr = value.replace(" ", "").upper()
        if not _FINGERPRINT.match(fpr):
            raise ValueError("an OpenPGP fingerprint is 40 hexadecimal digits")
        return fpr


class Assets(_Strict):
    domains: tuple[str, ...] = ()
    ip_ranges: tuple[str, ...] = ()
    asns: tuple[int, ...] = ()

    @field_validator("ip_ranges")
    @classmethod
    def _ranges(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"'{cidr}' is not an IP range") from None
        return value

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(d.lower().rstrip(".") for d in value)


class _Party(_Strict):
    id: Slug
    name: str = Field(min_length=1)
    identity: str
    community: bool = Field(False, description="member of the TLP:GREEN community")
    contacts: tuple[Contact, ...] = ()
    asserts: tuple[str, ...] = Field(
        (), description="identities besides its own that data from this party may name as"
                        " created_by_ref (the producers it relays)")

    @field_validator("identity")
    @classmethod
    def _identity(cls, value: str) -> str:
        if not _IDENTITY.match(value):
            raise ValueError("a STIX identity id such as identity--<uuid>")
        return value

    @field_validator("asserts")
    @classmethod
    def _asserts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for identity in value:
            if not _IDENTITY.match(identity):
                raise ValueError(f"'{identity[:80]}' is not a STIX identity id such as"
                                 " identity--<uuid>")
        return value

    @property
    def identities(self) -> frozenset[str]:
        """The identities data from this party may name as ``created_by_ref``."""
        return frozenset((self.identity, *self.asserts))


class NationalCirt(_Party):
    community: bool = True
    timezone: str = "America/Belize"


class Organisation(_Party):
    cirt: str | None = None
    sector: str
    role: Literal["constituent", "referral"] = "constituent"
    plain_mail: bool = Field(False, description="AMBER+ bulletins may go unencrypted")
    assets: Assets = Assets()

    @field_validator("sector")
    @classmethod
    def _sector(cls, value: str) -> str:
        if value not in INDUSTRY_SECTORS:
            raise ValueError(f"'{value}' is not in the STIX industry-sector vocabulary")
        return value


class TaxiiEndpoint(_Strict):
    discovery: str
    api_root: str
    pull_collections: tuple[str, ...] = ()
    push_collection: str | None = None
    # What one run against the partner may cost (cirt.bounded_http); plain http:// to another
    # machine only with insecure: true, which `cirt check` reports.
    insecure: bool = False
    max_body_bytes: int = Field(64 << 20, gt=0, description="one response, decompressed")
    max_pages: int = Field(10_000, gt=0, description="pages of one collection in one run")
    max_objects: int = Field(1_000_000, gt=0, description="objects of one collection per run")
    read_timeout: float = Field(60.0, gt=0, description="seconds any single read may wait")
    deadline: float = Field(3600.0, gt=0, description="seconds for one whole run")


class MispEndpoint(_Strict):
    url: str
    verify_tls: bool = True


class Partner(_Party):
    country: str | None = None
    max_tlp: TLP = TLP.GREEN
    constituency: Assets = Field(Assets(), description="networks the partner CIRT serves")
    taxii: TaxiiEndpoint | None = None
    misp: MispEndpoint | None = None

    _max = field_validator("max_tlp", mode="before")(classmethod(lambda cls, v: _tlp(v)))


class MarkingTreatment(_Strict):
    """How the gate treats a non-TLP marking definition: as a TLP level, or withhold."""

    id: str
    name: str
    treat_as: TLP

    _level = field_validator("treat_as", mode="before")(classmethod(lambda cls, v: _tlp(v)))


class CommunityFile(_Strict):
    version: Literal[1] = 1
    default_tlp: TLP = TLP.AMBER
    national_cirt: NationalCirt
    organisations: tuple[Organisation, ...]
    partners: tuple[Partner, ...] = ()
    markings: tuple[MarkingTreatment, ...] = ()

    _default = field_validator("default_tlp", mode="before")(classmethod(lambda cls, v: _tlp(v)))

    @model_validator(mode="after")
    def _unique(self) -> CommunityFile:
        seen: set[str] = {self.national_cirt.id}
        for kind, parties in (("organisations", self.organisations), ("partners", self.partners)):
            for i, party in enumerate(parties):
                if party.id in seen:
                    raise _Duplicate((kind, i, "id"), f"duplicate id '{party.id}'")
                seen.add(party.id)
        national = self.national_cirt.identity
        for kind, parties in (("organisations", self.organisations), ("partners", self.partners)):
            for i, party in enumerate(parties):
                if party.identity == national:
                    raise _Duplicate((kind, i, "identity"), "the national CIRT's identity belongs"
                                     " to the national CIRT alone")
                if national in party.asserts:
                    raise _Duplicate((kind, i, "asserts"), "no party may assert the national"
                                     " CIRT's identity")
        emails: set[str] = set()
        for kind, parties in (("organisations", self.organisations), ("partners", self.partners)):
            for i, party in enumerate(parties):
                for j, contact in enumerate(party.contacts):
                    if contact.email in emails:
                        raise _Duplicate((kind, i, "contacts", j, "email"),
                                         f"duplicate contact '{contact.email}'")
                    emails.add(contact.email)
        return self


class _Duplicate(ValueError):
    def __init__(self, loc: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.loc, self.reason = loc, reason


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

    def __init__(self, model: CommunityFile, source: str = "sectors.yaml") -> None:
        self.model = model
        self.source = source
        self.national = model.national_cirt
        self.default_tlp = model.default_tlp
        self.organisations = {o.id: o for o in model.organisations}
        self.partners = {p.id: p for p in model.partners}
        self.marking_treatment = {m.id: m.treat_as for m in model.markings}

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

    def party(self, party_id: str) -> _Party:
        if party_id == self.national.id:
            return self.national
        if party_id in self.organisations:
            return self.organisations[party_id]
        if party_id in self.partners:
            return self.partners[party_id]
        known = ", ".join([*self.organisations, *self.partners])
        raise NotFound(f"'{party_id}' is neither an organisation nor a partner in {self.source} "
                       f"(known: {known})")

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
        party: _Party | None = self.organisations.get(source) or self.partners.get(source)
        if party is not None:
            return SourcePolicy(f"{source_kind} source '{source}'", party.identities)
        if source_kind in ("taxii", "misp"):
            return SourcePolicy(f"{source_kind} source '{source}' (not in {self.source})",
                                frozenset())
        reserved = {self.national.identity}
        for declared in (*self.organisations.values(), *self.partners.values()):
            reserved |= declared.identities
        return SourcePolicy(f"{source_kind} source '{source}' (no party of {self.source})", None,
                            frozenset(reserved))

    def in_green_community(self, party_id: str) -> bool:
        return self.party(party_id).community

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
        return any(network.version == (own := ipaddress.ip_network(r, strict=False)).version
                   and network.subnet_of(own) for r in assets.ip_ranges)  # type: ignore[arg-type]
    if value.startswith("as") and value[2:].isdigit():
        return int(value[2:]) in assets.asns
    return any(value == d or value.endswith("." + d) for d in assets.domains)


def load_community(path: Path | str) -> Community:
    """Read and validate sectors.yaml; errors name file, line and field."""
    located = load_yaml(path)
    if not isinstance(located.data, dict):
        raise located.error((), "sectors.yaml must be a mapping with national_cirt and organisations")
    try:
        model = CommunityFile.model_validate(located.data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        ctx = first.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, _Duplicate):
            raise located.error(inner.loc, inner.reason) from None
        reason = {
            "extra_forbidden": "unknown key",
            "missing": "missing required field",
        }.get(first["type"], first["msg"].removeprefix("Value error, "))
        raise located.error(loc, reason) from None
    return Community(model, str(path))
