"""Fast, strict validation of incoming STIX 2.1 objects (files, TAXII pages, MISP conversions).

Pure: no I/O.  The per-type rules (required properties, property types, which object types a
reference may point to, closed vocabularies) are compiled once per process from the property
definitions of the OASIS ``stix2`` library, so that this validator rejects everything
``stix2.parse`` rejects; on top of them it enforces what ``stix2.parse`` lets through or quietly
repairs: ``id``/``created``/``modified`` present (``stix2`` invents them), ``modified >= created``,
RFC 3339 UTC timestamps, canonical UUIDs, no nulls or empty lists (``stix2`` drops them), no
control characters or lone surrogates, bounded nesting and string length, ``confidence`` 0-100.

Speed comes from compiled checkers instead of object construction, from caching verdicts that
depend only on a small key (a timestamp's date-time part, a reference's type, a pattern's text),
and from a fast path for the common ``[type:path = 'value']`` pattern that is exactly the
language stix2-patterns accepts for that shape (tests/test_stix_validation.py checks it against
the real parser).  Types whose constraints are not ported here (marking definitions, artifacts,
processes, certificates, network traffic, e-mail messages, anything with granular markings or
predefined extensions) are additionally run through ``stix2.parse``: slower, never less strict.

Bundle-level rules live in ``validate_objects``: markings that exist, references that resolve,
same id and version with different content (STIX 2.0 bundles are upgraded first: ``cirt.stix20``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from cirt.limits import ImportLimits
from cirt.stix_refs import walk_references
from cirt.tlp import is_tlp_marking
from cirt.versions import same_version, version_instant

# stix2 and stix2-patterns are imported by the functions that need them (start-up: stix2 pulls in
# requests and taxii2-client, 0.2-0.45 s by benchmarks/deferred_imports.py), so objects that take
# the fast paths, and modules that only ask ``simple_pattern``, never load them.

MAX_DEPTH = 32
MAX_STRING = 1_000_000
MAX_PATTERN_CACHE = 200_000
_MEMO = 10_000

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}\Z")
_TYPE21 = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*\Z")
_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?Z\Z")
_DICT_KEY = re.compile(r"[a-zA-Z0-9_-]{1,250}\Z")
_CUSTOM_PROP = re.compile(r"[a-z][a-z0-9_]{0,249}\Z")
_HEX = re.compile(r"(?:[a-fA-F0-9]{2})+\Z")
_SELECTOR = re.compile(r"([a-z0-9_-]{3,250}(\.(\[\d+\]|[a-z0-9_-]{1,250}))*|id)\Z")
# C0 controls except TAB, LF, CR; DEL; C1 controls; lone surrogates (not encodable as UTF-8).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

# Properties every non-SCO object must carry, whatever ``stix2`` would default for us.
_COMMON_REQUIRED = ("type", "spec_version", "id", "created", "modified")
_MARKING_REQUIRED = ("type", "spec_version", "id", "created")

# Object types whose ``_check_object_constraints`` are ported in ``_constraints`` below.
_PORTED = frozenset(
    {
        "campaign",
        "indicator",
        "infrastructure",
        "intrusion-set",
        "location",
        "malware",
        "malware-analysis",
        "observed-data",
        "relationship",
        "sighting",
        "threat-actor",
        "file",
    }
)


class Invalid(Exception):
    """One reason an object is refused; the message names the property."""


# New object types defined by an extension-definition (not custom content): those of the OASIS
# incident core suite, plus any an input object declares as new-sdo / new-sco / new-sro.
EXTENSION_OBJECT_TYPES = frozenset({"event", "impact", "task"})
_NEW_OBJECT_KINDS = {"new-sdo": "sdo", "new-sco": "sco", "new-sro": "sro"}


@dataclass
class _Ctx:
    """State of one object's check: whether ``stix2.parse`` must also see it."""

    allow_custom: bool
    extension_types: frozenset[str] = EXTENSION_OBJECT_TYPES
    library: bool = False
    toplevel_extension: bool = False


Checker = Callable[[Any, str, _Ctx], None]


# --- scalar checks ----------------------------------------------------------------------------


def check_string(value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise Invalid(f"{where} must be a string")
    if len(value) > MAX_STRING:
        raise Invalid(f"{where} is a string of {len(value):,} characters (the limit is {MAX_STRING:,})")
    bad = _CONTROL.search(value)
    if bad:
        raise Invalid(f"{where} contains the control character U+{ord(bad.group()):04X}")


@lru_cache(maxsize=65536)
def _moment(text: str) -> tuple[str, int] | None:
    """``(date-time, nanoseconds)`` of an RFC 3339 UTC timestamp, or None when it is not one."""
    match = _TIMESTAMP.match(text)
    if not match:
        return None
    try:
        datetime.fromisoformat(match.group(1))
    except ValueError:
        return None
    frac = match.group(2) or ""
    return match.group(1), int(frac.ljust(9, "0"))


def timestamp_key(value: Any, where: str) -> tuple[str, int]:
    """A sortable key of a STIX timestamp; raises Invalid with the reason otherwise."""
    if not isinstance(value, str):
        raise Invalid(f"{where} must be a timestamp string")
    key = _moment(value) if len(value) <= 40 else None
    if key is None:
        raise Invalid(
            f"{where} '{value[:40]}' is not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.ssssss]Z)"
        )
    return key


def is_identifier(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 300:
        return False
    stix_type, sep, uuid_part = value.partition("--")
    return bool(sep and _TYPE21.match(stix_type) and 3 <= len(stix_type) <= 250 and _UUID.match(uuid_part))


def check_identifier(value: Any, where: str, prefix: str | None = None) -> str:
    """The type of a well-formed identifier ``type--uuid``."""
    if not isinstance(value, str):
        raise Invalid(f"{where} must be an identifier string")
    stix_type, sep, uuid_part = value.partition("--")
    if not sep or not _TYPE21.match(stix_type) or not 3 <= len(stix_type) <= 250:
        raise Invalid(f"{where} '{value[:80]}' is not an identifier of the form <type>--<uuid>")
    if prefix is not None and stix_type != prefix:
        raise Invalid(f"{where} '{value[:80]}' must start with '{prefix}--'")
    if not _UUID.match(uuid_part):
        raise Invalid(f"{where} '{value[:80]}' does not end in an RFC 4122 UUID")
    return stix_type


def walk_json(value: Any, where: str, depth: int = 0, *, custom: bool = False) -> None:
    """Nulls, empty lists, control characters and nesting in content we have no schema for.

    ``custom``: content a producer defines (custom properties and objects), where STIX has no
    list to forbid emptying; stix2 and the OASIS validator accept empty lists there (ATT&CK and
    CAPEC carry them), and so does this.
    """
    if depth > MAX_DEPTH:
        raise Invalid(f"{where} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        check_string(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_string(key, f"{where} key")
            walk_json(item, f"{where}.{key}", depth + 1, custom=custom)
    elif isinstance(value, list):
        if not value and not custom:
            raise Invalid(f"{where} is an empty list (STIX forbids them)")
        for i, item in enumerate(value):
            walk_json(item, f"{where}[{i}]", depth + 1, custom=custom)
    elif value is None:
        raise Invalid(f"{where} is null (STIX forbids nulls)")


# --- patterns ---------------------------------------------------------------------------------

# Linear-time by construction, as every expression applied to peer data here: no quantified group
# whose body can match the same text in two ways (the value was ``(?:[^'\\]+|...)*``, which
# backtracked exponentially on a 64-digit hash followed by more pattern).
_IDENT = r"[a-z_][a-z0-9_]*"
_QUOTED_KEY = r"'[A-Za-z0-9_-]+'"
_SIMPLE_PATTERN = re.compile(
    r"\[(?P<type>[a-z][a-z0-9]*(?:-[a-z0-9]+)*):(?P<path>"
    + _IDENT
    + r"(?:\.(?:"
    + _IDENT
    + "|"
    + _QUOTED_KEY
    + r"))*) ?= ?'(?P<value>(?:[^'\\]|\\['\\])*)'\]\Z"
)
_KEYWORDS = frozenset({"true", "false"})
_pattern_cache: dict[str, str] = {}


def simple_pattern(pattern: str) -> tuple[str, list[str], str] | None:
    """``(type, path, value)`` of a ``[type:path = 'value']`` pattern, else None.

    Only shapes whose tokens cannot be lexed as anything else are recognised (lower-case
    identifiers other than ``true``/``false``, quoted path keys of plain characters, one space
    at most around ``=``), so a match is valid for stix2-patterns exactly when its hash rule
    holds; everything else goes to the full parser.
    """
    match = _SIMPLE_PATTERN.match(pattern)
    if match is None:
        return None
    path_text = match.group("path")
    if "true" in path_text or "false" in path_text:
        path = path_text.split(".")
        if any(part in _KEYWORDS for part in path):
            return None
    else:
        path = path_text.split(".")
    value = match.group("value")
    if "\\" in value:
        value = value.replace("\\'", "'").replace("\\\\", "\\")
    return match.group("type"), path, value


# A string literal, or an unterminated one to the end of the text: every quote that opens one
# is consumed once, so no literal is ever rescanned from a later quote (linear time).
_LITERALS = re.compile(r"'(?:[^'\\]|\\.)*(?:'|\\?\Z)")


def pattern_comparisons(pattern: str) -> int:
    """How many comparisons a STIX pattern holds: each names one ``type:path`` (one colon)."""
    return _LITERALS.sub("", pattern).count(":")


def over_limits(obj: Any, limits: ImportLimits) -> str:
    """Why ``obj`` is larger than the import limits allow, or ''.  Cheap: list lengths and one
    walk of the references (``cirt.stix_refs``, at any depth), checked before anything whose cost
    grows with them (selectors, reference checks, the pattern parser)."""
    if type(obj) is not dict:
        return ""
    granular = obj.get("granular_markings")
    if isinstance(granular, list):
        if len(granular) > limits.max_granular_markings:
            return (
                f"{len(granular):,} granular markings (the limit is"
                f" {limits.max_granular_markings:,}, [import] max_granular_markings)"
            )
        selectors = sum(
            len(g["selectors"])
            for g in granular
            if isinstance(g, dict) and isinstance(g.get("selectors"), list)
        )
        if selectors > limits.max_selectors:
            return (
                f"{selectors:,} granular marking selectors (the limit is"
                f" {limits.max_selectors:,}, [import] max_selectors)"
            )
    references = 0
    for _ in walk_references(obj):  # every *_ref and *_refs entry, at any depth
        references += 1
    if references > limits.max_references:
        return f"{references:,} references (the limit is {limits.max_references:,}, [import] max_references)"
    pattern = obj.get("pattern")
    if type(pattern) is str and obj.get("type") == "indicator":
        if len(pattern) > limits.max_pattern_length:
            return (
                f"a pattern of {len(pattern):,} characters (the limit is"
                f" {limits.max_pattern_length:,}, [import] max_pattern_length)"
            )
        if pattern not in _pattern_cache and simple_pattern(pattern) is None:
            comparisons = pattern_comparisons(pattern)
            if comparisons > limits.max_pattern_comparisons:
                return (
                    f"a pattern of {comparisons:,} comparisons (the limit is"
                    f" {limits.max_pattern_comparisons:,}, [import] max_pattern_comparisons)"
                )
    return ""


def pattern_errors(pattern: str) -> str:
    """'' when the STIX 2.1 pattern is valid, else the parser's first complaint (cached)."""
    cached = _pattern_cache.get(pattern)
    if cached is not None:
        return cached
    verdict = None
    if "hashes" not in pattern:
        if simple_pattern(pattern) is not None:
            verdict = ""
    else:
        simple = simple_pattern(pattern)
        if simple is not None:
            verdict = _simple_hash_rule(simple[1], simple[2])
    if verdict is None:
        from stix2patterns.validator import run_validator

        try:
            errors = run_validator(pattern, "2.1")
        except Exception as exc:  # the ANTLR runtime raises on some inputs
            errors = [f"unparsable pattern ({type(exc).__name__})"]
        verdict = str(errors[0]) if errors else ""
    if len(_pattern_cache) >= MAX_PATTERN_CACHE:
        _pattern_cache.clear()
    _pattern_cache[pattern] = verdict
    return verdict


def _simple_hash_rule(path: list[str], value: str) -> str | None:
    """stix2-patterns' one semantic rule for this shape: a named hash must look like one.

    '' when valid, None to let the full parser decide (and word the message).
    """
    if "hashes" not in path or len(path) < 2:
        return ""
    from stix2patterns.v21.object_validator import HASHES_REGEX

    hash_type = path[-1].upper().replace("-", "").replace("'", "")
    if hash_type not in HASHES_REGEX:
        return ""
    raw = value.replace("\\", "\\\\").replace("'", "\\'")  # the literal as written
    return "" if re.match(HASHES_REGEX[hash_type][0], raw.replace("'", "")) else None


# --- compiled schemas from the stix2 property definitions ---------------------------------------


@dataclass
class TypeSchema:
    """What an object type may and must carry."""

    type: str
    kind: str  # sdo | sro | sco | meta
    required: tuple[str, ...]
    properties: dict[str, Checker]
    library: bool  # also run stix2.parse (constraints not ported)
    ref_properties: tuple[str, ...] = ()


@dataclass
class Schemas:
    types: dict[str, TypeSchema]
    sdo: frozenset[str]
    sco: frozenset[str]
    sro: frozenset[str]
    known: frozenset[str]


@lru_cache(maxsize=2)
def schemas(allow_custom: bool) -> Schemas:
    """Compile the checkers of every STIX 2.1 type once per process and custom setting."""
    import stix2  # noqa: F401  (registers the classes)
    from stix2.base import _DomainObject, _RelationshipObject
    from stix2.registry import STIX2_OBJ_MAPS

    maps = STIX2_OBJ_MAPS["2.1"]
    sdo = frozenset(t for t, c in maps["objects"].items() if issubclass(c, _DomainObject))
    sro = frozenset(t for t, c in maps["objects"].items() if issubclass(c, _RelationshipObject))
    sco = frozenset(maps["observables"])
    types: dict[str, TypeSchema] = {}
    for group, kind_of in (("objects", None), ("observables", "sco")):
        for stix_type, cls in maps[group].items():
            if stix_type == "bundle":
                continue
            kind = kind_of or ("sdo" if stix_type in sdo else "sro" if stix_type in sro else "meta")
            props = {name: _compile(prop, name) for name, prop in cls._properties.items()}
            required = [n for n, p in cls._properties.items() if p.required]
            if kind != "sco":
                base = _MARKING_REQUIRED if stix_type == "marking-definition" else _COMMON_REQUIRED
                if stix_type in ("language-content", "extension-definition"):
                    base = _COMMON_REQUIRED
                required = list(dict.fromkeys([*base, *required]))
            else:
                required = list(dict.fromkeys(["type", "id", *required]))
            own = "_check_object_constraints" in cls.__dict__
            types[stix_type] = TypeSchema(
                stix_type,
                kind,
                tuple(r for r in required if r in props),
                props,
                library=own and stix_type not in _PORTED,
                ref_properties=tuple(n for n in props if n.endswith(("_ref", "_refs"))),
            )
    return Schemas(types, sdo, sco, sro, frozenset(types))


def _compile(prop: Any, name: str) -> Checker:
    """A checker for one ``stix2.properties`` property object."""
    from stix2 import properties as p

    kind = type(prop)
    if kind is p.TypeProperty:
        fixed = prop._fixed_value

        def check_type(value: Any, where: str, ctx: _Ctx) -> None:
            if value != fixed:
                raise Invalid(f"{where} must be '{fixed}'")

        check_type.fixed = fixed  # type: ignore[attr-defined]
        return check_type
    if kind is p.IDProperty:
        prefix = prop.required_prefix[:-2]

        def check_id(value: Any, where: str, ctx: _Ctx) -> None:
            check_identifier(value, where, prefix)

        check_id.id_prefix = prefix + "--"  # type: ignore[attr-defined]
        return check_id
    if kind is p.ReferenceProperty:
        return _reference_checker(prop)
    if kind is p.TimestampProperty:
        return _check_timestamp
    if kind is p.BooleanProperty:

        def check_bool(value: Any, where: str, ctx: _Ctx) -> None:
            if not isinstance(value, bool):
                raise Invalid(f"{where} must be true or false")

        return check_bool
    if kind is p.IntegerProperty:
        return _number_checker(prop, (int,))
    if kind is p.FloatProperty:
        return _number_checker(prop, (int, float))
    if kind is p.EnumProperty:
        allowed = frozenset(prop.allowed)

        def check_enum(value: Any, where: str, ctx: _Ctx) -> None:
            check_string(value, where)
            if value not in allowed:
                raise Invalid(f"{where} '{value[:80]}' is not one of: {', '.join(sorted(allowed))}")

        return check_enum
    if kind is p.StringProperty and getattr(prop, "_fixed_value", None) is not None:
        fixed_text = prop._fixed_value

        def check_fixed(value: Any, where: str, ctx: _Ctx) -> None:
            if value != fixed_text:
                raise Invalid(f"{where} must be '{fixed_text}'")

        check_fixed.fixed = fixed_text  # type: ignore[attr-defined]
        return check_fixed
    if kind in (p.StringProperty, p.OpenVocabProperty, p.PatternProperty, p.ObjectReferenceProperty):
        return _check_text
    if kind is p.HexProperty:

        def check_hex(value: Any, where: str, ctx: _Ctx) -> None:
            if not isinstance(value, str) or not _HEX.match(value):
                raise Invalid(f"{where} must be an even number of hexadecimal digits")

        return check_hex
    if kind is p.SelectorProperty:

        def check_selector(value: Any, where: str, ctx: _Ctx) -> None:
            if not isinstance(value, str) or not _SELECTOR.match(value):
                raise Invalid(f"{where} is not a selector")

        return check_selector
    if kind is p.ListProperty:
        return _list_checker(prop, name)
    if kind is p.EmbeddedObjectProperty:
        return _embedded_checker(prop.type, name)
    if kind in (p.DictionaryProperty, p.HashesProperty):
        return _dictionary_checker(prop)
    if kind is p.ExtensionsProperty:
        return _extensions_checker()
    # BinaryProperty, MarkingProperty, ObservableProperty and anything newer: keep our generic
    # hygiene rules and let stix2 decide the rest.
    return _library_checker


def _check_text(value: Any, where: str, ctx: _Ctx) -> None:
    check_string(value, where)


def _check_timestamp(value: Any, where: str, ctx: _Ctx) -> None:
    timestamp_key(value, where)


def _library_checker(value: Any, where: str, ctx: _Ctx) -> None:
    walk_json(value, where)
    ctx.library = True


def _number_checker(prop: Any, kinds: tuple[type, ...]) -> Checker:
    low, high = prop.min, prop.max

    def check_number(value: Any, where: str, ctx: _Ctx) -> None:
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise Invalid(f"{where} must be a number" if float in kinds else f"{where} must be an integer")
        if low is not None and value < low:
            raise Invalid(f"{where} is {value}, below the minimum {low}")
        if high is not None and value > high:
            raise Invalid(f"{where} is {value}, above the maximum {high}")

    return check_number


def _reference_checker(prop: Any) -> Checker:
    """Well-formed id, and a type the property admits: ``stix2``'s own verdict, cached by type."""
    verdicts: dict[tuple[str, bool], str] = {}

    accepted: set[tuple[str, bool, frozenset[str]]] = set()

    def check_reference(value: Any, where: str, ctx: _Ctx) -> None:
        if type(value) is str and (value, ctx.allow_custom, ctx.extension_types) in accepted:
            return
        ref_type = check_identifier(value, where)
        permissive = ctx.allow_custom or ref_type in ctx.extension_types
        key = (ref_type, permissive)
        verdict = verdicts.get(key)
        if verdict is None:
            try:
                prop.clean(value, permissive)
                verdict = ""
            except Exception as exc:
                verdict = str(exc) or type(exc).__name__
            verdicts[key] = verdict
        if verdict:
            raise Invalid(f"{where} '{value}': {verdict}")
        if len(accepted) > _MEMO:
            accepted.clear()
        accepted.add((value, ctx.allow_custom, ctx.extension_types))

    check_reference.accepted = accepted  # type: ignore[attr-defined]
    return check_reference


def _list_checker(prop: Any, name: str) -> Checker:
    from stix2 import properties as p

    contained = prop.contained
    if isinstance(contained, p.Property):
        item_check = _compile(contained, name)
    else:
        item_check = _embedded_checker(contained, name)

    # Lists of strings (marking refs, vocabularies) repeat from object to object: remember the
    # ones found valid under the same settings.
    memo: set[tuple[Any, ...]] = set()
    memoable = item_check is not _library_checker

    def check_list(value: Any, where: str, ctx: _Ctx) -> None:
        if not isinstance(value, list):
            raise Invalid(f"{where} must be a list")
        if not value:
            raise Invalid(f"{where} is an empty list (STIX forbids them)")
        key = None
        if memoable and all(type(item) is str for item in value):
            key = (*value, ctx.allow_custom, ctx.extension_types)
            if key in memo:
                return
        for i, item in enumerate(value):
            item_check(item, f"{where}[{i}]", ctx)
        if key is not None:
            if len(memo) > _MEMO:
                memo.clear()
            memo.add(key)

    if memoable:
        check_list.memo = memo  # type: ignore[attr-defined]
    plain = _PLAIN_EMBEDDED.get(getattr(contained, "__name__", ""))
    if plain is not None:
        check_list.plain = plain  # type: ignore[attr-defined]
    return check_list


def _plain_texts(value: dict[str, Any], allowed: frozenset[str]) -> bool:
    """Every property of ``value`` is one of ``allowed`` and text the general path accepts."""
    for key, text in value.items():
        if (
            key not in allowed
            or type(text) is not str
            or len(text) > MAX_STRING
            or _CONTROL.search(text) is not None
        ):
            return False
    return True


_EXTERNAL_REFERENCE_TEXTS = frozenset({"source_name", "description", "url", "external_id"})
_KILL_CHAIN_TEXTS = frozenset({"kill_chain_name", "phase_name"})


def _plain_external_references(value: Any) -> bool:
    """True when ``external_references`` is what the general path accepts in its commonest form
    (ATT&CK, CAPEC: source name, description, url, external id, all text); False sends it there
    (hashes, custom properties, anything doubtful)."""
    if type(value) is not list or not value:
        return False
    for ref in value:
        if (
            type(ref) is not dict
            or "source_name" not in ref
            or not ("description" in ref or "external_id" in ref or "url" in ref)
            or not _plain_texts(ref, _EXTERNAL_REFERENCE_TEXTS)
        ):
            return False
    return True


def _plain_kill_chain_phases(value: Any) -> bool:
    """``_plain_external_references`` for ``kill_chain_phases``: both names, text only."""
    if type(value) is not list or not value:
        return False
    for phase in value:
        if type(phase) is not dict or len(phase) != 2 or not _plain_texts(phase, _KILL_CHAIN_TEXTS):
            return False
    return True


_PLAIN_EMBEDDED: dict[str, Callable[[Any], bool]] = {
    "ExternalReference": _plain_external_references,
    "KillChainPhase": _plain_kill_chain_phases,
}


def _plain_custom_texts(value: Any) -> bool:
    """A custom property's list of text the general path accepts (empty lists too: custom
    content may hold them)."""
    return type(value) is list and all(
        type(item) is str and len(item) <= MAX_STRING and _CONTROL.search(item) is None for item in value
    )


_LEGAL_EXTREF_HASHES = frozenset(
    {"MD5", "SHA-1", "SHA-256", "SHA-512", "SHA3-256", "SHA3-512", "SSDEEP", "TLSH"}
)


def _embedded_checker(cls: Any, name: str) -> Checker:
    """Sub-objects (external references, kill-chain phases, granular markings, ...)."""
    cls_name = cls.__name__
    props = {n: _compile(prop, n) for n, prop in cls._properties.items()}
    required = tuple(n for n, prop in cls._properties.items() if prop.required)
    ported = cls_name in ("ExternalReference", "KillChainPhase", "GranularMarking")
    own = "_check_object_constraints" in cls.__dict__

    def check_embedded(value: Any, where: str, ctx: _Ctx) -> None:
        if not isinstance(value, dict):
            raise Invalid(f"{where} must be an object")
        for key in required:
            if key not in value:
                raise Invalid(f"{where} lacks the required property '{key}'")
        for key, item in value.items():
            check = props.get(key)
            if check is None:
                _custom_property(key, item, f"{where}.{key}", ctx)
            else:
                if item is None:
                    raise Invalid(f"{where}.{key} is null (STIX forbids nulls)")
                check(item, f"{where}.{key}", ctx)
        if cls_name == "ExternalReference":
            if not any(k in value for k in ("description", "external_id", "url")):
                raise Invalid(f"{where} needs at least one of description, external_id, url")
            for algo in value.get("hashes", ()):
                if algo not in _LEGAL_EXTREF_HASHES:
                    raise Invalid(f"{where}.hashes '{algo}' is not in hash-algorithm-ov")
        elif cls_name == "GranularMarking":
            if ("lang" in value) == ("marking_ref" in value):
                raise Invalid(f"{where} needs exactly one of lang, marking_ref")
        elif own and not ported:
            ctx.library = True

    return check_embedded


def _dictionary_checker(prop: Any) -> Checker:
    from stix2 import properties as p

    hashes = isinstance(prop, p.HashesProperty)

    def check_dictionary(value: Any, where: str, ctx: _Ctx) -> None:
        if not isinstance(value, dict):
            raise Invalid(f"{where} must be an object")
        if not value:
            raise Invalid(f"{where} is an empty dictionary")
        for key in value:
            if not _DICT_KEY.match(key):
                raise Invalid(
                    f"{where} key '{str(key)[:80]}' is not 1-250 characters of a-z, A-Z, 0-9, '-', '_'"
                )
        walk_json(value, where)
        if hashes:
            try:
                prop.clean(value, ctx.allow_custom)
            except Exception as exc:
                raise Invalid(f"{where}: {exc}") from None

    return check_dictionary


def _extensions_checker() -> Checker:
    from stix2.registry import class_for_type

    def check_extensions(value: Any, where: str, ctx: _Ctx) -> None:
        if not isinstance(value, dict) or not value:
            raise Invalid(f"{where} must be a non-empty object")
        for key, ext in value.items():
            here = f"{where}.{key}"
            if not isinstance(ext, dict):
                raise Invalid(f"{here} must be an object")
            walk_json(ext, here, 1)
            if key.startswith("extension-definition--"):
                check_identifier(key, f"{where} key", "extension-definition")
                if ext.get("extension_type") == "toplevel-property-extension":
                    ctx.toplevel_extension = True
            elif class_for_type(key, "2.1", "extensions") is not None:
                ctx.library = True
            elif not ctx.allow_custom:
                raise Invalid(f"{here} is a custom extension (custom content is refused)")

    return check_extensions


def _custom_property(key: Any, value: Any, where: str, ctx: _Ctx) -> None:
    if not ctx.allow_custom and not ctx.toplevel_extension:
        raise Invalid(f"{where} is a custom property (custom content is refused)")
    if not isinstance(key, str) or not _CUSTOM_PROP.match(key):
        raise Invalid(f"{where}: a custom property name is 1-250 of a-z, 0-9, '_', starting with a letter")
    walk_json(value, where, 1, custom=True)


# --- one object -------------------------------------------------------------------------------


def check_object(
    obj: Any, *, allow_custom: bool = False, extension_types: frozenset[str] = EXTENSION_OBJECT_TYPES
) -> str:
    """'' when ``obj`` is a valid STIX 2.1 object, else the reason it is not (one line)."""
    if type(obj) is dict and type(obj.get("type")) is str:
        key = (obj["type"], tuple(obj), allow_custom, extension_types)
        fast = _shapes.get(key, _UNSEEN)
        if fast is _UNSEEN:
            fast = _fast_checker(key, obj)
        if fast is not None and fast(obj):
            return ""
    try:
        _check_object(obj, allow_custom, extension_types)
    except Invalid as exc:
        return str(exc)
    except RecursionError:
        return f"nested deeper than {MAX_DEPTH} levels"
    return ""


# --- the shape fast path ----------------------------------------------------------------------
#
# Objects of one producer come in few shapes (type and property names, in order).  For each
# shape seen often, a function is generated with every check of the general path inlined: it answers
# True only when the general path would accept the object, and False whenever anything is out of
# the ordinary, which sends the object down the general path (that words the reason).

MAX_SHAPES = 512
# Generating a shape's function costs about as much as a dozen objects on the general path, and
# real producers have a long tail of shapes seen once (ATT&CK: 200 of its 480): a shape earns its
# function on its COMPILE_AFTER-th sighting.
COMPILE_AFTER = 8
_UNSEEN: Any = object()
_shapes: dict[tuple[Any, ...], Callable[[dict[str, Any]], bool] | None] = {}
_sightings: dict[tuple[Any, ...], int] = {}


def _fast_checker(key: tuple[Any, ...], obj: dict[str, Any]) -> Callable[[dict[str, Any]], bool] | None:
    """The shape's function once it has been seen often enough (and while there is room),
    else None: the general path."""
    seen = _sightings.get(key, 0) + 1
    if seen < COMPILE_AFTER:
        if len(_sightings) >= MAX_SHAPES * 8:
            _sightings.clear()
        _sightings[key] = seen
        return None
    if len(_shapes) >= MAX_SHAPES:
        return None
    _sightings.pop(key, None)
    fast = _shapes[key] = _shape_checker(obj, key[2], key[3])
    return fast


def _shape_checker(
    obj: dict[str, Any], allow_custom: bool, extension_types: frozenset[str]
) -> Callable[[dict[str, Any]], bool] | None:
    stix_type = obj.get("type")
    schema = schemas(allow_custom).types.get(stix_type) if isinstance(stix_type, str) else None
    if schema is None or schema.library:
        return None
    keys = list(obj)
    custom = [k for k in keys if k not in schema.properties]
    if (
        (custom and not (allow_custom and all(isinstance(k, str) and _CUSTOM_PROP.match(k) for k in custom)))
        or any(k not in obj for k in schema.required)
        or {"extensions", "granular_markings"} & set(keys)
    ):
        return None
    names: dict[str, Any] = {
        "Invalid": Invalid,
        "_Ctx": _Ctx,
        "MAX_STRING": MAX_STRING,
        "SEARCH": _CONTROL.search,
        "MOMENT": _moment,
        "ORDER": _modified_after_created,
        "CONSTRAINTS": _constraints,
        "ALLOW": allow_custom,
        "EXT": extension_types,
        "TYPE": stix_type,
        "UUID": _UUID.match,
    }
    lines = ["def fast(obj):", "    ctx = None", "    try:"]
    generic = (
        "        if v is None: return False\n        if ctx is None: ctx = _Ctx(ALLOW, EXT)"
        "\n        C{i}(v, {key!r}, ctx)"
    )
    for i, key in enumerate(keys):
        check = schema.properties.get(key)
        lines.append(f"        v = obj[{key!r}]")
        if check is None:  # a custom property, allowed (its name checked above): text and
            # lists of text inline, anything else the general path's own check
            names["CUSTOM"], names["TEXTS"] = _custom_property, _plain_custom_texts
            lines.append("        if type(v) is str:")
            lines.append("            if len(v) > MAX_STRING or SEARCH(v) is not None: return False")
            lines.append("        elif not TEXTS(v):")
            lines.append("            if ctx is None: ctx = _Ctx(ALLOW, EXT)")
            lines.append(f"            CUSTOM({key!r}, v, {key!r}, ctx)")
        elif hasattr(check, "plain"):  # external references, kill-chain phases
            names[f"L{i}"], names[f"C{i}"] = check.plain, check
            lines.append(f"        if not L{i}(v):")
            lines.append("    " + generic.format(i=i, key=key).replace("\n", "\n    "))
        elif check is _check_text:
            lines.append(
                "        if type(v) is not str or len(v) > MAX_STRING or SEARCH(v) is not None: return False"
            )
        elif check is _check_timestamp:
            lines.append("        if type(v) is not str or len(v) > 40 or MOMENT(v) is None: return False")
        elif hasattr(check, "fixed"):
            names[f"F{i}"] = check.fixed
            lines.append(f"        if v != F{i}: return False")
        elif hasattr(check, "id_prefix"):
            names[f"P{i}"] = check.id_prefix
            lines.append(
                f"        if type(v) is not str or not v.startswith(P{i})"
                f" or len(v) > 300 or not UUID(v, {len(check.id_prefix)}):"
                " return False"
            )
        elif hasattr(check, "accepted"):
            names[f"A{i}"], names[f"C{i}"] = check.accepted, check
            lines.append(f"        if type(v) is not str or (v, ALLOW, EXT) not in A{i}:")
            lines.append("    " + generic.format(i=i, key=key).replace("\n", "\n    "))
        elif hasattr(check, "memo"):
            # Lists of strings are remembered; lists of objects (external references) are
            # unhashable and checked each time.
            names[f"M{i}"], names[f"C{i}"] = check.memo, check
            lines.append("        try:")
            lines.append(f"            hit = type(v) is list and (*v, ALLOW, EXT) in M{i}")
            lines.append("        except TypeError:")
            lines.append("            hit = False")
            lines.append("        if not hit:")
            lines.append("    " + generic.format(i=i, key=key).replace("\n", "\n    "))
        else:
            names[f"C{i}"] = check
            lines.append(generic.format(i=i, key=key))
    if "created" in obj and "modified" in obj:
        lines.append("        ORDER(obj)")
    if "confidence" in obj:
        lines.append("        if not 0 <= obj['confidence'] <= 100: return False")
    lines += [
        "        CONSTRAINTS(TYPE, obj)",
        "    except (Invalid, TypeError):",  # TypeError: a value of the wrong shape
        "        return False",
        "    return ctx is None or not (ctx.library or ctx.toplevel_extension)",
    ]
    exec("\n".join(lines), names)  # the source holds only schema names, as literals
    fast: Callable[[dict[str, Any]], bool] = names["fast"]
    return fast


def _check_object(obj: Any, allow_custom: bool, extension_types: frozenset[str]) -> None:
    if not isinstance(obj, dict):
        raise Invalid(f"not a STIX object but a JSON {type(obj).__name__}")
    stix_type = obj.get("type")
    if not isinstance(stix_type, str):
        raise Invalid("lacks 'type'")
    if not _TYPE21.match(stix_type) or not 3 <= len(stix_type) <= 250:
        raise Invalid(f"type '{stix_type[:80]}' is not a STIX type name")
    if stix_type == "bundle":
        raise Invalid("a bundle inside a bundle")
    spec_version = obj.get("spec_version")
    s = schemas(allow_custom)
    schema = s.types.get(stix_type)
    if schema is None:
        kind = new_object_kind(obj)
        if kind is None and stix_type in extension_types:
            kind = "sdo"
        if kind is not None:
            _check_extension_object(obj, stix_type, kind)
        elif not allow_custom:
            raise Invalid(f"custom object type '{stix_type}' (custom content is refused)")
        else:
            _check_loose_object(obj, stix_type)
        return
    if spec_version is not None and spec_version != "2.1":
        raise Invalid(f"spec_version '{str(spec_version)[:20]}' (this is STIX 2.1)")
    for key in schema.required:
        if key not in obj:
            if key == "spec_version":
                raise Invalid("lacks spec_version (required on STIX 2.1 SDOs, SROs and marking definitions)")
            raise Invalid(f"lacks the required property '{key}'")
    ctx = _Ctx(allow_custom, extension_types)
    extensions = obj.get("extensions")
    if isinstance(extensions, dict):
        schema.properties["extensions"](extensions, "extensions", ctx)
    props = schema.properties
    text, stamp, moment = _check_text, _check_timestamp, _moment
    for key, value in obj.items():
        check = props.get(key)
        # The two commonest kinds are checked inline; anything doubtful takes the full path
        # (which raises with the message).
        if check is text:
            if type(value) is str and len(value) <= MAX_STRING and not _CONTROL.search(value):
                continue
        elif check is stamp:
            if type(value) is str and len(value) <= 40 and moment(value) is not None:
                continue
        elif check is None:
            _custom_property(key, value, key, ctx)
            continue
        if value is None:
            raise Invalid(f"{key} is null (STIX forbids nulls)")
        if key != "extensions":
            check(value, key, ctx)
    _modified_after_created(obj)
    confidence = obj.get("confidence")
    if confidence is not None and not 0 <= confidence <= 100:
        raise Invalid(f"confidence {confidence} is outside 0-100")
    _constraints(stix_type, obj)
    if "granular_markings" in obj:
        _check_selectors(obj)
    if schema.library or ctx.library:
        _library_check(obj, allow_custom)


def _check_selectors(obj: dict[str, Any]) -> None:
    """Every granular marking selector names a non-empty property of the object (STIX 2.1 §7.2.3).

    Each selector is followed from the top of the object, so the cost is the selectors' length:
    ``stix2`` walks the whole object once per selector, quadratic in the number of markings.
    """
    for i, marking in enumerate(obj["granular_markings"]):
        for selector in marking["selectors"]:
            if not _selected(obj, selector):
                raise Invalid(
                    f"granular_markings[{i}] selector '{selector[:80]}' names nothing in the object"
                )


def _selected(obj: dict[str, Any], selector: str) -> bool:
    value: Any = obj
    for step in selector.split("."):
        if step.startswith("[") and step.endswith("]"):
            index = step[1:-1]
            if not isinstance(value, list) or not index.isdigit() or int(index) >= len(value):
                return False
            value = value[int(index)]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return False
    return bool(value)


def new_object_kind(obj: dict[str, Any]) -> str | None:
    """'sdo'/'sco'/'sro' when an extension definition makes ``obj``'s type a new STIX type."""
    extensions = obj.get("extensions")
    if not isinstance(extensions, dict):
        return None
    for key, ext in extensions.items():
        if isinstance(key, str) and key.startswith("extension-definition--") and isinstance(ext, dict):
            kind = _NEW_OBJECT_KINDS.get(ext.get("extension_type"))  # type: ignore[arg-type]
            if kind:
                return kind
    return None


def _modified_after_created(obj: dict[str, Any]) -> None:
    created, modified = obj.get("created"), obj.get("modified")
    if created is None or modified is None or created == modified:
        return
    if len(created) == len(modified):  # same shape, both valid: text order is time order
        earlier = modified < created
    else:
        earlier = timestamp_key(modified, "modified") < timestamp_key(created, "created")
    if earlier:
        raise Invalid(f"modified {modified} is earlier than created {created}")


def _check_extension_object(obj: dict[str, Any], stix_type: str, kind: str) -> None:
    """An object of a type an extension definition adds: the common properties, strictly."""
    required = ("type", "id") if kind == "sco" else _COMMON_REQUIRED
    for key in required:
        if key not in obj:
            raise Invalid(f"lacks the required property '{key}'")
    if obj.get("spec_version", "2.1") != "2.1":
        raise Invalid(f"spec_version '{str(obj.get('spec_version'))[:20]}' (this is STIX 2.1)")
    extensions = obj.get("extensions")
    if extensions is not None:
        if not isinstance(extensions, dict) or not extensions:
            raise Invalid("extensions must be a non-empty object")
        for key in extensions:
            if isinstance(key, str) and key.startswith("extension-definition--"):
                check_identifier(key, "extensions key", "extension-definition")
    _check_loose_object(obj, stix_type)


_COMMON_REFS = frozenset({"created_by_ref", "object_marking_refs"})


def _check_loose_object(obj: dict[str, Any], stix_type: str) -> None:
    """What holds for any STIX object, known type or not."""
    check_identifier(obj.get("id"), "id", stix_type)
    if obj.get("spec_version", "2.1") != "2.1":
        raise Invalid(f"spec_version '{str(obj.get('spec_version'))[:20]}' (this is STIX 2.1)")
    for key in ("created", "modified"):
        if key in obj:
            timestamp_key(obj[key], key)
    _modified_after_created(obj)
    for key, value in obj.items():
        if not isinstance(key, str) or not _DICT_KEY.match(key):
            raise Invalid(f"property name '{str(key)[:80]}' is not a STIX property name")
        if key in _COMMON_REFS:
            if key.endswith("_ref"):
                check_identifier(value, key)
            elif not isinstance(value, list):
                raise Invalid(f"{key} must be a list of identifiers")
            else:
                for i, ref in enumerate(value):
                    check_identifier(ref, f"{key}[{i}]")
        # The type's own properties are its producer's: stix2 and the OASIS validator accept
        # what they hold (ATT&CK's x_mitre_data_source_ref may be '').
        walk_json(value, key, 1, custom=key not in _COMMON_REFS)
    for i, ref in enumerate(obj.get("object_marking_refs", ()) or ()):
        check_identifier(ref, f"object_marking_refs[{i}]", "marking-definition")


def _order(obj: dict[str, Any], first: str, last: str, strict: bool = False) -> None:
    if first in obj and last in obj:
        a, b = timestamp_key(obj[first], first), timestamp_key(obj[last], last)
        if b < a or (strict and b == a):
            word = "later than" if strict else "at or after"
            raise Invalid(f"{last} must be {word} {first}")


def _constraints(stix_type: str, obj: dict[str, Any]) -> None:
    """The per-type rules ``stix2`` keeps in ``_check_object_constraints`` (ported ones)."""
    if stix_type == "indicator":
        _order(obj, "valid_from", "valid_until", strict=True)
        if obj.get("pattern_type") == "stix":
            version = obj.get("pattern_version", "2.1")
            if version != "2.1":
                from stix2patterns.validator import run_validator

                errors = run_validator(obj["pattern"], version)
                if errors:
                    raise Invalid(f"pattern: {errors[0]}")
            else:
                problem = pattern_errors(obj["pattern"])
                if problem:
                    raise Invalid(f"pattern: {problem}")
    elif stix_type in ("campaign", "infrastructure", "intrusion-set", "threat-actor", "sighting"):
        _order(obj, "first_seen", "last_seen")
    elif stix_type == "malware":
        _order(obj, "first_seen", "last_seen")
        if obj.get("is_family") and "name" not in obj:
            raise Invalid("a malware family needs a name")
    elif stix_type == "relationship":
        _order(obj, "start_time", "stop_time", strict=True)
    elif stix_type == "observed-data":
        _order(obj, "first_observed", "last_observed")
        if ("objects" in obj) == ("object_refs" in obj):
            raise Invalid("observed-data needs exactly one of objects, object_refs")
    elif stix_type == "location":
        if "precision" in obj and not ("latitude" in obj and "longitude" in obj):
            raise Invalid("precision needs latitude and longitude")
        if ("latitude" in obj) != ("longitude" in obj):
            raise Invalid("latitude and longitude go together")
        if not ("region" in obj or "country" in obj or "latitude" in obj):
            raise Invalid("a location needs region, country, or latitude and longitude")
    elif stix_type == "malware-analysis":
        if "result" not in obj and "analysis_sco_refs" not in obj:
            raise Invalid("malware-analysis needs result or analysis_sco_refs")
    elif stix_type == "file" and "hashes" not in obj and "name" not in obj:
        raise Invalid("a file needs hashes or name")


def _library_check(obj: dict[str, Any], allow_custom: bool) -> None:
    import stix2

    if obj["type"] == "marking-definition":
        obj = _custom_marking_for_library(obj, allow_custom)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stix2.parse(obj, allow_custom=allow_custom, version="2.1")
    except Exception as exc:
        raise Invalid(_library_message(exc)) from None


_STANDARD_MARKING_TYPES = ("statement", "tlp")


def _custom_marking_for_library(obj: dict[str, Any], allow_custom: bool) -> dict[str, Any]:
    """A marking definition of another type than statement or tlp, as ``stix2`` can check it.

    STIX 2.1 §7.2.1 says definition_type SHOULD be one of the two; the OASIS schema accepts any
    other type whose definition is an object (OpenCTI's "TLP" markings), and so does the OASIS
    validator, but ``stix2`` refuses a type it has no class for even with custom content allowed.
    Such a marking is custom content: its definition is checked here, the rest by ``stix2``.
    What it means is the gate's business (it withholds what sectors.yaml does not translate).
    """
    kind = obj.get("definition_type")
    if not isinstance(kind, str) or kind in _STANDARD_MARKING_TYPES or "definition" not in obj:
        return obj
    if not allow_custom:
        raise Invalid(f"definition_type '{kind[:40]}' is a custom marking type (custom content is refused)")
    if not isinstance(obj["definition"], dict):
        raise Invalid(f"definition of the custom marking type '{kind[:40]}' must be an object")
    return {**obj, "definition_type": "statement", "definition": {"statement": kind}}


def _library_message(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


# --- a whole set of objects -------------------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    index: int
    id: str | None
    reason: str

    @property
    def ref(self) -> str:
        return self.id if self.id else f"object #{self.index}"


@dataclass
class Validation:
    """The verdict on a set of objects: which pass, which not and why, and what was noted."""

    accepted: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    duplicates_in_input: int = 0
    notes: list[str] = field(default_factory=list)


def validate_objects(
    objects: Sequence[Any],
    *,
    allow_custom: bool = False,
    known_ids: Callable[[set[str]], set[str]] = lambda ids: set(),
    refused: dict[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
    limits: ImportLimits = ImportLimits(),
) -> Validation:
    """Validate every object, then the rules that need the others (and the store).

    References to other objects may point outside the input (STIX 2.1 §8: a bundle has no
    meaning of its own; stix2 and the OASIS validator accept them), so a rejected object never
    takes the objects that refer to it along.  Marking references must resolve, to a marking
    definition of the input, a TLP marking or a stored one (``known_ids(ids)`` answers which the
    store holds): an object whose marking is unknown cannot be released correctly.  One id and
    one instant with different content: the first is kept.  ``refused`` names objects the caller
    already refused (index -> reason).
    """
    result = Validation()
    candidates: dict[tuple[str, tuple[str, int]], tuple[int, dict[str, Any]]] = {}

    declared = {
        o["type"]
        for o in objects
        if isinstance(o, dict) and "extensions" in o and isinstance(o.get("type"), str) and new_object_kind(o)
    }
    extension_types = EXTENSION_OBJECT_TYPES | declared
    refused = refused or {}
    for index, obj in enumerate(objects):
        if progress is not None and index % 1000 == 0:
            progress(index)
        reason = (
            (refused.get(index) if refused else "")
            or over_limits(obj, limits)
            or check_object(obj, allow_custom=allow_custom, extension_types=extension_types)
        )
        if reason:
            oid = obj.get("id") if isinstance(obj, dict) and is_identifier(obj.get("id")) else None
            result.rejected.append(Rejected(index, oid, reason))
            continue
        version = obj.get("modified") or obj.get("created") or ""
        key = (obj["id"], version_instant(version))
        previous = candidates.get(key)
        if previous is None:
            candidates[key] = (index, obj)
            continue
        if same_version(previous[1], obj):
            result.duplicates_in_input += 1
        else:
            result.rejected.append(
                Rejected(index, key[0], _CONFLICT.format(v=version or "none: SCOs are not versioned"))
            )
    if progress is not None:
        progress(len(objects))
    _resolve_markings(candidates, result, known_ids)
    # First occurrences were inserted in input order, and removals keep that order.
    result.accepted = list(candidates.values())
    result.rejected.sort(key=lambda r: r.index)
    return result


_CONFLICT = (
    "the same id and version ({v}) appears earlier in the input with other content (the first is kept)"
)


def _marking_refs(obj: dict[str, Any]) -> list[str]:
    """``stix_refs.marking_references`` for a validated object, without walking all of it:
    markings sit only in ``object_marking_refs`` and ``granular_markings[].marking_ref``."""
    refs = list(obj.get("object_marking_refs", ()))
    granular = obj.get("granular_markings")
    if granular:
        refs += [g["marking_ref"] for g in granular if "marking_ref" in g]
    return refs


def _resolve_markings(
    candidates: dict[Any, tuple[int, dict[str, Any]]],
    result: Validation,
    known_ids: Callable[[set[str]], set[str]],
) -> None:
    markings_of = {key: _marking_refs(obj) for key, (_, obj) in candidates.items()}
    present = {key[0] for key in candidates}
    wanted = {
        ref for refs in markings_of.values() for ref in refs if ref not in present and not is_tlp_marking(ref)
    }
    stored = known_ids(wanted) if wanted else set()
    while True:
        dropped = []
        for key, refs in markings_of.items():
            for ref in refs:
                if ref in present or ref in stored or is_tlp_marking(ref):
                    continue
                result.rejected.append(
                    Rejected(candidates[key][0], key[0], f"marked with {ref}, an unknown marking definition")
                )
                dropped.append(key)
                break
        if not dropped:
            return
        for key in dropped:
            candidates.pop(key)
            markings_of.pop(key)
        present = {key[0] for key in candidates}
