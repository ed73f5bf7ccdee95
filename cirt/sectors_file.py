"""Reading ``sectors.yaml``: its schema (pydantic, strict: an unknown key is an error) and
``load_community``, which turns a valid file into the community model (``cirt.community``).

Reading goes through ``cirt.yamlfile`` so that every schema error names the file, the line and the
field.  A party's ``import_limits`` may only tighten config.toml ``[import]``: a looser value is
an error of this file too.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cirt.community import (
    INDUSTRY_SECTORS,
    Assets,
    Community,
    Contact,
    MarkingTreatment,
    MispEndpoint,
    NationalCirt,
    Organisation,
    Partner,
    TaxiiEndpoint,
)
from cirt.limits import LIMIT_NAMES, ImportLimits
from cirt.tlp import TLP
from cirt.yamlfile import load_yaml

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_IDENTITY = re.compile(r"^identity--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$")

Slug = Annotated[str, Field(pattern=_SLUG.pattern, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    builds: ClassVar[type[Any]]  # the model's dataclass a valid value becomes


def _tlp(value: object) -> TLP:
    if isinstance(value, TLP):
        return value
    if not isinstance(value, str):
        raise ValueError("a TLP label is text such as 'amber'")
    try:
        return TLP.parse(value)
    except Exception:
        raise ValueError(f"'{value}' is not a TLP label") from None


class ContactSchema(_Strict):
    builds: ClassVar[type[Any]] = Contact
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


class AssetsSchema(_Strict):
    builds: ClassVar[type[Any]] = Assets
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


class _PartySchema(_Strict):
    id: Slug
    name: str = Field(min_length=1)
    identity: str
    community: bool = Field(False, description="member of the TLP:GREEN community")
    contacts: tuple[ContactSchema, ...] = ()
    asserts: tuple[str, ...] = Field(
        (),
        description="identities besides its own that data from this party may name as"
        " created_by_ref (the producers it relays)",
    )
    import_limits: dict[str, PositiveInt] = Field(
        {}, description="config.toml [import] limits tightened for what this party sends"
    )

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
                raise ValueError(f"'{identity[:80]}' is not a STIX identity id such as identity--<uuid>")
        return value


class NationalCirtSchema(_PartySchema):
    builds: ClassVar[type[Any]] = NationalCirt
    community: bool = True
    timezone: str = "America/Belize"


class OrganisationSchema(_PartySchema):
    builds: ClassVar[type[Any]] = Organisation
    cirt: str | None = None
    sector: str
    role: Literal["constituent", "referral"] = "constituent"
    plain_mail: bool = Field(False, description="AMBER+ bulletins may go unencrypted")
    assets: AssetsSchema = AssetsSchema()

    @field_validator("sector")
    @classmethod
    def _sector(cls, value: str) -> str:
        if value not in INDUSTRY_SECTORS:
            raise ValueError(f"'{value}' is not in the STIX industry-sector vocabulary")
        return value


class TaxiiEndpointSchema(_Strict):
    builds: ClassVar[type[Any]] = TaxiiEndpoint
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


class MispEndpointSchema(_Strict):
    builds: ClassVar[type[Any]] = MispEndpoint
    url: str
    verify_tls: bool = True


class PartnerSchema(_PartySchema):
    builds: ClassVar[type[Any]] = Partner
    country: str | None = None
    max_tlp: TLP = TLP.GREEN
    constituency: AssetsSchema = Field(AssetsSchema(), description="networks the partner CIRT serves")
    taxii: TaxiiEndpointSchema | None = None
    misp: MispEndpointSchema | None = None

    _max = field_validator("max_tlp", mode="before")(classmethod(lambda cls, v: _tlp(v)))


class MarkingTreatmentSchema(_Strict):
    """How the gate treats a non-TLP marking definition: as a TLP level, or withhold."""

    builds: ClassVar[type[Any]] = MarkingTreatment

    id: str
    name: str
    treat_as: TLP

    _level = field_validator("treat_as", mode="before")(classmethod(lambda cls, v: _tlp(v)))


class CommunityFile(_Strict):
    """The whole file; ``community()`` is the model the rest of cirt uses."""

    version: Literal[1] = 1
    default_tlp: TLP = TLP.AMBER
    national_cirt: NationalCirtSchema
    organisations: tuple[OrganisationSchema, ...]
    partners: tuple[PartnerSchema, ...] = ()
    markings: tuple[MarkingTreatmentSchema, ...] = ()

    _default = field_validator("default_tlp", mode="before")(classmethod(lambda cls, v: _tlp(v)))

    @model_validator(mode="after")
    def _unique(self, info: ValidationInfo) -> CommunityFile:
        seen: set[str] = {self.national_cirt.id}
        for kind, parties in (("organisations", self.organisations), ("partners", self.partners)):
            for i, party in enumerate(parties):
                if party.id in seen:
                    raise _Located((kind, i, "id"), f"duplicate id '{party.id}'")
                seen.add(party.id)
        national = self.national_cirt.identity
        for kind, parties in (("organisations", self.organisations), ("partners", self.partners)):
            for i, party in enumerate(parties):
                if party.identity == national:
                    raise _Located(
                        (kind, i, "identity"),
                        "the national CIRT's identity belongs to the national CIRT alone",
                    )
                if national in party.asserts:
                    raise _Located((kind, i, "asserts"), "no party may assert the national CIRT's identity")
        emails: set[str] = set()
        for kind, parties in (("organisations", self.organisations), ("partners", self.partners)):
            for i, party in enumerate(parties):
                for j, contact in enumerate(party.contacts):
                    if contact.email in emails:
                        raise _Located(
                            (kind, i, "contacts", j, "email"), f"duplicate contact '{contact.email}'"
                        )
                    emails.add(contact.email)
        limits = (info.context or {}).get("limits") or ImportLimits()
        for kind, parties in (("organisations", self.organisations), ("partners", self.partners)):
            for i, party in enumerate(parties):
                for name, value in party.import_limits.items():
                    loc = (kind, i, "import_limits", name)
                    if name not in LIMIT_NAMES:
                        raise _Located(
                            loc, f"'{name}' is not an [import] limit (one of: {', '.join(LIMIT_NAMES)})"
                        )
                    if value > getattr(limits, name):
                        raise _Located(
                            loc,
                            f"{value:,} is looser than config.toml [import]"
                            f" {name} ({getattr(limits, name):,}): a party's"
                            " limits can only be tighter",
                        )
        return self

    def community(self, source: str = "sectors.yaml") -> Community:
        """The community model (``cirt.community``) this file describes; ``source`` names the
        file in the model's messages."""
        return Community(
            _built(self.national_cirt),
            tuple(_built(o) for o in self.organisations),
            tuple(_built(p) for p in self.partners),
            default_tlp=self.default_tlp,
            markings=tuple(_built(m) for m in self.markings),
            source=source,
        )


def _built(value: Any) -> Any:
    """A validated schema object as the model's frozen dataclass (``builds``), recursively."""
    if isinstance(value, _Strict):
        return value.builds(**{name: _built(getattr(value, name)) for name in type(value).model_fields})
    if isinstance(value, tuple):
        return tuple(_built(item) for item in value)
    if isinstance(value, dict):
        return dict(value)
    return value


class _Located(ValueError):
    def __init__(self, loc: tuple[str | int, ...], reason: str) -> None:
        super().__init__(reason)
        self.loc, self.reason = loc, reason


def load_community(path: Path | str, limits: ImportLimits | None = None) -> Community:
    """Read and validate sectors.yaml; errors name file, line and field.  ``limits``: config.toml
    ``[import]``, which a party's ``import_limits`` may only tighten (default: the defaults)."""
    located = load_yaml(path)
    if not isinstance(located.data, dict):
        raise located.error((), "sectors.yaml must be a mapping with national_cirt and organisations")
    try:
        schema = CommunityFile.model_validate(located.data, context={"limits": limits})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        ctx = first.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, _Located):
            raise located.error(inner.loc, inner.reason) from None
        reason = {
            "extra_forbidden": "unknown key",
            "missing": "missing required field",
        }.get(first["type"], first["msg"].removeprefix("Value error, "))
        raise located.error(loc, reason) from None
    return schema.community(str(path))
