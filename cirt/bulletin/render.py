"""A bulletin from what the gate released, rendered through templates (md, html, txt) or as STIX.

``compose`` turns released objects into the bulletin a template sees; it receives only what the
gate released (never the withheld list), so no template can leak a withheld object.  Content
written by analysts or peers is escaped for the format: HTML by Jinja's autoescape, Markdown by
backslash-escaping its special characters (the ``finalize`` hook escapes every interpolated value
unless the template marks it as our own markup), plain text by removing control characters.
In every format hidden characters (bidi overrides, zero-width) are shown as ``<U+XXXX>``
(``cirt.display.visible``), and in plain text no line of content can pass for a TLP banner.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from markupsafe import Markup

from cirt.display import visible
from cirt.errors import InvalidValue
from cirt.incidents import INCIDENT_CORE_ID, OUR_EXTENSION_ID
from cirt.stixtime import format_ts, local_text, parse_ts
from cirt.tlp import TLP

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

FORMATS = ("md", "html", "txt", "stix")

# FIRST TLP 2.0, paraphrased: what the recipient may do with content at each level.
SHARING_RULES: dict[TLP, str] = {
    TLP.CLEAR: "Disclosure is not limited: you may share this with anyone, subject to standard "
    "copyright rules.",
    TLP.GREEN: "Community only: you may share this with peers and partner organisations in "
    "your community, but not on publicly accessible channels.",
    TLP.AMBER: "Limited disclosure: share this only on a need-to-know basis within your "
    "organisation and with its clients, to protect them and prevent further harm.",
    TLP.AMBER_STRICT: "Organisation only: share this only on a need-to-know basis within your "
    "own organisation, not with its clients.",
    TLP.RED: "For your eyes only: this is for the named recipient alone; do not share it "
    "further, not even within your organisation.",
}

# Advice by RSIT class: what a sector organisation should do when such an incident is reported.
CATEGORY_ADVICE: dict[str, str] = {
    "fraud": "Warn staff and customers about messages imitating your organisation; have the "
    "look-alike sites taken down and watch for logins from the listed addresses.",
    "malicious-code": "Scan your hosts for the listed files and hashes, isolate infected "
    "machines and block their command-and-control addresses.",
    "intrusions": "Review privileged accounts and remote access logs, reset exposed "
    "credentials and check the listed addresses in your logs.",
    "intrusion-attempts": "Check perimeter and authentication logs for the listed sources and "
    "patch the exploited services.",
    "availability": "Confirm your DDoS mitigation contacts and capacity, and rate-limit or "
    "block the listed sources upstream.",
    "information-gathering": "Watch for the listed scanners and tighten what your perimeter exposes.",
    "information-content-security": "Check whether your data is involved, rotate affected "
    "secrets and prepare notification duties.",
    "vulnerable": "Inventory affected systems and apply the vendor fixes or mitigations.",
    "abusive-content": "Filter the listed senders and report abuse to the providers involved.",
}


class ReleasedItem(Protocol):
    """One object the gate released (``cirt.gate.Released`` is one)."""

    @property
    def obj(self) -> Mapping[str, Any]: ...

    @property
    def tlp(self) -> TLP: ...


@dataclass(frozen=True)
class Update:
    tlp: TLP
    when: str
    text: str


@dataclass(frozen=True)
class IncidentSummary:
    tlp: TLP
    reference: str
    title: str
    category: str
    severity: str
    status: str
    updated: str
    description: str
    updates: tuple[Update, ...] = ()


@dataclass(frozen=True)
class IndicatorRow:
    tlp: TLP
    name: str
    pattern: str
    valid_from: str
    incident: str

    @property
    def defanged(self) -> str:
        """The pattern as a person may copy it without clicking or resolving it."""
        return defang(self.pattern)

    @property
    def shown_name(self) -> str:
        """The name, defanged too: it often repeats the value."""
        return defang_text(self.name)


@dataclass(frozen=True)
class Action:
    tlp: TLP
    text: str


@dataclass(frozen=True)
class Bulletin:
    """Everything a template sees: built from released objects only."""

    number: str
    issuer: str
    contact: str
    recipient: str
    issued: str
    since: str
    tlp: TLP
    incidents: tuple[IncidentSummary, ...]
    indicators: tuple[IndicatorRow, ...]
    actions: tuple[Action, ...]
    bundle: dict[str, Any] = field(repr=False)
    kind: str = "security bulletin"  # or "public advisory" (TLP:CLEAR, for anyone)

    @property
    def rule(self) -> str:
        return SHARING_RULES[self.tlp]

    @property
    def subject(self) -> str:
        """The e-mail subject: the TLP label first, no content that could be sensitive."""
        text = (
            f"[{self.tlp.label}] {self.issuer} {self.kind} {self.number} for "
            f"{self.recipient}: {_count(len(self.incidents), 'incident')}, "
            f"{_count(len(self.indicators), 'indicator')}"
        )
        return header_safe(text)

    @property
    def empty(self) -> bool:
        return not (self.incidents or self.indicators)

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "recipient": self.recipient,
            "issued": self.issued,
            "since": self.since,
            "tlp": self.tlp.slug,
            "subject": self.subject,
            "incidents": len(self.incidents),
            "indicators": len(self.indicators),
            "objects": len(self.bundle["objects"]),
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _line(value: object) -> str:
    """A field meant to be one line (a title, a pattern), kept on one line in every format."""
    return re.sub(r"\s+", " ", str(value)).strip()


def header_safe(text: str) -> str:
    """One line for an e-mail header: CR, LF and every other control character become spaces."""
    return re.sub(r"\s+", " ", visible(re.sub(r"[\x00-\x1f\x7f]", " ", text))).strip()


def bulletin_number(prefix: str, issued: datetime) -> str:
    """A date and a random suffix: the number says nothing about how many bulletins came before."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    suffix = "".join(secrets.choice(alphabet) for _ in range(5))
    return f"{prefix}-{issued:%Y%m%d}-{suffix}"


def defang_text(text: str) -> str:
    """``https://evil.example`` as ``hxxps://evil[.]example``: readable, not clickable."""
    text = re.sub(r"(?i)\bhttp(s?)://", r"hxxp\1://", text)
    return text.replace(".", "[.]").replace("@", "[@]")


def defang(pattern: str) -> str:
    """A STIX pattern with its quoted values defanged, the object paths
    (``file:hashes.'SHA-256'``) left as they are."""
    return re.sub(r"'(?:[^'\\]|\\.)*'", lambda m: defang_text(m.group(0)), pattern)


def _local(stamp: str, zone: ZoneInfo | None) -> str:
    """A STIX timestamp as the CIRT's readers read it, in its zone."""
    if zone is None or not stamp:
        return stamp
    try:
        return local_text(parse_ts(stamp), zone)
    except ValueError:
        return stamp


def compose(
    released: Sequence[ReleasedItem],
    *,
    definitions: Sequence[Mapping[str, Any]],
    recipient: str,
    issuer: str,
    contact: str,
    number: str,
    issued: datetime,
    since: datetime,
    bundle_id: str,
    zone: ZoneInfo | None = None,
    advice: Mapping[str, str] | None = None,
    kind: str = "security bulletin",
) -> Bulletin:
    """The bulletin for one recipient from the gate's released objects (and nothing else).

    Times are shown in ``zone`` (the CIRT's); each incident's advice is its playbook's
    (``advice``: playbook name -> text), else its RSIT class's; an indicator released twice
    (the same pattern at two TLPs) is one row, under the more restrictive label.
    """
    objects = {item.obj["id"]: item for item in released}
    references = {
        oid: _reference(item.obj) for oid, item in objects.items() if item.obj["type"] == "incident"
    }
    updates: dict[str, list[Update]] = {}
    for item in released:
        if item.obj["type"] == "note":
            for ref in item.obj.get("object_refs", ()):
                updates.setdefault(ref, []).append(
                    Update(item.tlp, str(item.obj.get("created", "")), str(item.obj.get("content", "")))
                )
    incidents = tuple(
        sorted(
            (
                _summary(
                    item,
                    tuple(
                        replace(u, when=_local(u.when, zone))
                        for u in sorted(updates.get(oid, []), key=lambda u: u.when)
                    ),
                    zone,
                )
                for oid, item in objects.items()
                if item.obj["type"] == "incident"
            ),
            key=lambda s: (-int(s.tlp), s.reference),
        )
    )
    playbooks = {
        _reference(item.obj): item.obj.get("extensions", {}).get(OUR_EXTENSION_ID, {}).get("playbook")
        for item in released
        if item.obj["type"] == "incident"
    }
    linked: dict[str, list[str]] = {}
    for item in released:
        obj = item.obj
        if obj["type"] == "relationship" and obj.get("target_ref") in references:
            linked.setdefault(str(obj.get("source_ref")), []).append(references[obj["target_ref"]])
    by_pattern: dict[str, IndicatorRow] = {}
    for oid, item in objects.items():
        if item.obj["type"] != "indicator":
            continue
        row = IndicatorRow(
            item.tlp,
            _line(item.obj.get("name") or ""),
            _line(item.obj.get("pattern", "")),
            _local(_line(item.obj.get("valid_from", "")), zone),
            ", ".join(sorted(linked.get(oid, []))),
        )
        seen = by_pattern.get(row.pattern)
        if seen is not None:
            refs = sorted({*seen.incident.split(", "), *row.incident.split(", ")} - {""})
            first = min(seen, row, key=lambda r: r.valid_from)
            row = replace(
                first, tlp=max(seen.tlp, row.tlp), incident=", ".join(refs), name=seen.name or row.name
            )
        by_pattern[row.pattern] = row
    indicators = tuple(sorted(by_pattern.values(), key=lambda r: (r.incident, r.pattern)))
    actions = _actions(
        released,
        incidents,
        indicators,
        contact,
        {ref: (advice or {}).get(name or "") for ref, name in playbooks.items()},
    )
    levels = [item.tlp for item in released]
    return Bulletin(
        number=number,
        issuer=issuer,
        contact=contact,
        recipient=recipient,
        issued=_local(format_ts(issued), zone),
        since=_local(format_ts(since), zone),
        tlp=max(levels, default=TLP.CLEAR),
        incidents=incidents,
        indicators=indicators,
        actions=actions,
        kind=kind,
        bundle={
            "type": "bundle",
            "id": bundle_id,
            "objects": [dict(d) for d in definitions] + [dict(i.obj) for i in released],
        },
    )


def _reference(obj: Mapping[str, Any]) -> str:
    ours = obj.get("extensions", {}).get(OUR_EXTENSION_ID, {})
    return _line(ours.get("reference") or obj["id"])


def _summary(item: ReleasedItem, updates: tuple[Update, ...], zone: ZoneInfo | None) -> IncidentSummary:
    obj = item.obj
    extensions = obj.get("extensions", {})
    ours, core = extensions.get(OUR_EXTENSION_ID, {}), extensions.get(INCIDENT_CORE_ID, {})
    category = ours.get("category") or ", ".join(core.get("incident_types", ())) or "unspecified"
    return IncidentSummary(
        tlp=item.tlp,
        reference=_reference(obj),
        title=_line(obj.get("name", "")),
        category=_line(category),
        severity=_line(ours.get("severity", "unspecified")),
        status=_line(core.get("investigation_status", "unspecified")),
        updated=_local(_line(obj.get("modified", "")), zone),
        description=str(obj.get("description", "")),
        updates=updates,
    )


def _actions(
    released: Sequence[ReleasedItem],
    incidents: tuple[IncidentSummary, ...],
    indicators: tuple[IndicatorRow, ...],
    contact: str,
    advice: Mapping[str, str | None],
) -> tuple[Action, ...]:
    """Courses of action released, advice for each incident (its playbook's, else its RSIT
    class's), and what to do with IOCs.

    An action takes the most restrictive TLP of the items that prompted it.
    """
    actions = [
        Action(
            i.tlp,
            _line(i.obj.get("name", "")) + (f": {i.obj['description']}" if i.obj.get("description") else ""),
        )
        for i in released
        if i.obj["type"] == "course-of-action"
    ]
    by_text: dict[str, TLP] = {}
    for incident in incidents:
        text = advice.get(incident.reference) or CATEGORY_ADVICE.get(incident.category.split(":")[0])
        if text:
            by_text[text] = max(by_text.get(text, TLP.CLEAR), incident.tlp)
    actions += [Action(level, text) for text, level in by_text.items()]
    if indicators:
        them = "it" if len(indicators) == 1 else "them"
        actions.append(
            Action(
                max(r.tlp for r in indicators),
                f"Search your logs of the last 30 days for the {_count(len(indicators), 'indicator')} "
                f"of this bulletin and block {them} at your perimeter (DNS, proxy, mail gateway, "
                "firewall) where that is safe.",
            )
        )
    if incidents or indicators:
        actions.append(
            Action(
                TLP.CLEAR,
                f"Report any sighting or related incident to {contact}, quoting this bulletin's number.",
            )
        )
    return tuple(actions)


# --- rendering --------------------------------------------------------------------------------

_MD_INLINE = re.compile(r"([\\`*_\[\]<>|~&!])")
_MD_LINE_START = re.compile(r"^(\s*)([#=+\->]|\d+(?=[.)]))")


def md_escape(value: object) -> str:
    """Text safe inside Markdown: no markup, no raw HTML, no line break, no block marker.

    Inline markup characters are always escaped; list, heading and quote markers only at the
    start, the one place where they act (every value is kept on one line).
    """
    text = visible(re.sub(r"[\x00-\x1f\x7f]+", " ", str(value)).strip())
    text = _MD_INLINE.sub(r"\\\1", text)
    match = _MD_LINE_START.match(text)
    if match:
        marker = match.group(2)
        if marker.isdigit():
            end = match.end()
            text = text[:end] + "\\" + text[end:]
        else:
            text = text[: match.start(2)] + "\\" + text[match.start(2) :]
    return text


_BANNER_LIKE = re.compile(r"[\W_]*t\W*l\W*p(?![a-z0-9])", re.IGNORECASE)


def looks_like_banner(line: str) -> bool:
    """Whether a line, read by a person, could pass for a TLP label heading a block of text."""
    return _BANNER_LIKE.match(unicodedata.normalize("NFKC", line).strip()) is not None


def txt_clean(value: object) -> str:
    """Text safe for a terminal or a plain e-mail, and no line of it a TLP banner.

    Control characters (ANSI escapes) are removed, hidden characters shown; a line of content
    that begins like a TLP label is marked as quoted so only our own labels read as labels.
    """
    text = visible(re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", str(value).replace("\r\n", "\n")))
    return "\n".join(
        re.sub(r"^(\s*)", r"\1(quoted) ", line, count=1) if looks_like_banner(line) else line
        for line in text.split("\n")
    )


def _md_finalize(value: object) -> object:
    return value if isinstance(value, Markup) else md_escape(value)


def _txt_finalize(value: object) -> object:
    return value if isinstance(value, Markup) else txt_clean(value)


def _html_finalize(value: object) -> object:
    return value if isinstance(value, Markup) else visible(str(value))


@cache
def _environment(fmt: str) -> Any:
    # Imported here: start-up time (jinja2, ~20 ms: ``route list`` and ``bulletin send --dry-run``
    # load this module and never render).
    from jinja2 import Environment, PackageLoader, StrictUndefined

    options: dict[str, Any] = {
        "loader": PackageLoader("cirt.bulletin", "templates"),
        "undefined": StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
    }
    if fmt == "html":
        env = Environment(autoescape=True, finalize=_html_finalize, **options)
    else:
        env = Environment(
            autoescape=False, finalize=_md_finalize if fmt == "md" else _txt_finalize, **options
        )
    env.globals["label"] = lambda level: Markup(TLP(level).label)
    env.globals["colour"] = lambda level: Markup(
        {
            TLP.CLEAR: "#FFFFFF",
            TLP.GREEN: "#33FF00",
            TLP.AMBER: "#FFC000",
            TLP.AMBER_STRICT: "#FFC000",
            TLP.RED: "#FF2B2B",
        }[TLP(level)]
    )
    return env


def render(bulletin: Bulletin, fmt: str) -> str:
    """The bulletin as Markdown, HTML, plain text, or its STIX bundle (JSON)."""
    if fmt not in FORMATS:
        raise InvalidValue(f"'{fmt}' is not a bulletin format (use one of: {', '.join(FORMATS)})")
    if fmt == "stix":
        return json.dumps(bulletin.bundle, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    template = _environment(fmt).get_template(f"bulletin.{fmt}.j2")
    text: str = template.render(b=bulletin, rule=Markup(bulletin.rule))
    return text
