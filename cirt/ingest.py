"""Taking STIX in: every inbound path through one parser, one validator, one set of limits.

Files, standard input and MISP feeds (``cirt import``), the TAXII inbox, TAXII pulls and MISP
pulls all read bytes with ``parse_json`` (duplicate keys, NaN/Infinity, numbers beyond JSON
interchange, depth, and the byte limit checked before parsing) and store through ``ingest``:

* the limits of config.toml ``[import]`` (``cirt.limits.ImportLimits``): objects per document,
  granular markings, selectors and references per object, pattern length and comparisons;
* validation (``cirt.stix_validation``);
* ownership, bound to the source (``Community.source_policy``): a source asserts only the
  ``created_by_ref`` identities sectors.yaml declares for it; the CIRT's objects and identity
  never change from outside; only a source that may assert an object's creator versions it
  (STIX 2.1 §3.6);
* versions ordered by instant: one instant is one version however it is spelled; the same version
  with other content is a conflict (the first kept);
* markings that data cannot change: marking definitions are immutable and the OASIS TLP ones are
  exactly OASIS's; a new version never lowers the TLP the store holds for the object.

What passes is written in one transaction with its provenance; every refusal (of a whole document
or of one object) is written to the ingest log with its source and reason.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from cirt.community import SourcePolicy
from cirt.errors import InputRejected
from cirt.limits import ImportLimits
from cirt.misp.to_stix import events_in, events_to_stix, is_bare_event
from cirt.misp_tlp import Resolved, marking_refs_of, resolve_markings
from cirt.refusal_log import Refusal
from cirt.routing import AssetIndex
from cirt.stix20 import upgrade_stix20
from cirt.stix_validation import Rejected, validate_objects
from cirt.stixtime import format_ts
from cirt.store import Provenance, canonical_json
from cirt.store.ingest_state import ImportRow, StoredVersion
from cirt.tlp import TLP, TLP1_MARKING_IDS, level_of_marking, marking_definition, tlp1_marking_definition
from cirt.untrusted_json import parse_json, read_bytes
from cirt.versions import same_version, version_instant

if TYPE_CHECKING:
    from cirt.context import Context

Progress = Callable[[str, int, int], None]


@dataclass
class IngestSummary:
    """What one ingest did: counts, every rejection and conflict with its reason, and notes."""

    new: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.new + self.updated

    def to_dict(self) -> dict[str, Any]:
        return {
            "new": self.new,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "rejected": [{"object": ref, "reason": reason} for ref, reason in self.rejected],
            "conflicts": [{"object": ref, "reason": reason} for ref, reason in self.conflicts],
            "notes": list(self.notes),
        }


def limits_of(context: Context, provenance: Provenance) -> ImportLimits:
    """The limits what this source sends is held to: config.toml ``[import]``, tightened by its
    party's ``import_limits`` in sectors.yaml (``SourcePolicy.limits``)."""
    configured = context.config.limits
    policy = context.community.source_policy(provenance.source_kind, provenance.source)
    return _tightened(configured, policy)


def _tightened(configured: ImportLimits, policy: SourcePolicy) -> ImportLimits:
    if not policy.limits:
        return configured
    return dataclasses.replace(
        configured, **{name: min(value, getattr(configured, name)) for name, value in policy.limits.items()}
    )


def log_refused(context: Context, provenance: Provenance, reason: str) -> None:
    """A whole document refused (not JSON, too large, not STIX): one line of the ingest log."""
    context.store.log_refusals(
        [
            Refusal(
                provenance.source_kind,
                provenance.source,
                provenance.collection,
                None,
                None,
                "refused",
                reason,
            )
        ]
    )


def read_document(context: Context, data: bytes, name: str, provenance: Provenance) -> Any:
    """``parse_json`` under the workspace's limits, a refusal written to the ingest log."""
    try:
        return parse_json(data, name, limits_of(context, provenance))
    except InputRejected as exc:
        log_refused(context, provenance, str(exc))
        raise


def envelope_objects(
    context: Context, data: bytes, name: str, provenance: Provenance
) -> tuple[dict[str, Any], list[Any]]:
    """A TAXII envelope (inbox POST, a page of a pull) and its objects, or InputRejected."""
    envelope = read_document(context, data, name, provenance)
    if not isinstance(envelope, dict) or not isinstance(envelope.get("objects", []), list):
        reason = f"{name} is not a TAXII envelope with a list of objects"
        log_refused(context, provenance, reason)
        raise InputRejected(reason)
    return envelope, envelope.get("objects", [])


def ingest(
    context: Context,
    objects: Sequence[Any],
    provenance: Provenance,
    *,
    default_tlp: TLP | None = None,
    allow_custom: bool | None = None,
    refused: dict[int, str] | None = None,
    notes: Sequence[str] = (),
    progress: Progress | None = None,
) -> IngestSummary:
    """Validate ``objects`` from the source ``provenance`` names and store what passes, all in
    one transaction; log what does not.

    ``default_tlp`` applies to objects without a TLP marking (else the community default);
    ``allow_custom`` keeps custom objects and properties (else the ``[import] allow_custom``
    setting, off by default).  References to objects outside the input are kept as they are
    (STIX 2.1 §8: a bundle has no meaning of its own); marking references must resolve.
    """
    if allow_custom is None:
        allow_custom = context.config.allow_custom
    policy = context.community.source_policy(provenance.source_kind, provenance.source)
    limits = _tightened(context.config.limits, policy)
    if len(objects) > limits.max_objects:
        reason = (
            f"{len(objects):,} objects in one document (the limit is"
            f" {limits.max_objects:,}, [import] max_objects)"
        )
        log_refused(context, provenance, reason)
        raise InputRejected(f"{provenance.source}: {reason}")
    default = default_tlp if default_tlp is not None else context.community.default_tlp
    summary = IngestSummary(notes=list(notes))
    _ingest(context, objects, provenance, policy, summary, default, allow_custom, limits, refused, progress)
    return summary


def _ingest(
    context: Context,
    objects: Sequence[Any],
    provenance: Provenance,
    policy: SourcePolicy,
    summary: IngestSummary,
    default: TLP,
    allow_custom: bool,
    limits: ImportLimits,
    refused: dict[int, str] | None,
    progress: Progress | None,
) -> None:
    total = len(objects)
    community = context.community
    store = context.store
    treatment = community.marking_treatment

    def validation_progress(done: int) -> None:
        if progress is not None:
            progress("validating", done, total)

    verdict = validate_objects(
        objects,
        allow_custom=allow_custom,
        known_ids=store.existing_ids,
        refused=refused,
        progress=validation_progress,
        limits=limits,
    )
    summary.rejected = [(r.ref, r.reason) for r in verdict.rejected]
    summary.duplicates = verdict.duplicates_in_input
    refusals = [
        Refusal(
            provenance.source_kind,
            provenance.source,
            provenance.collection,
            r.id,
            _version_text(objects[r.index]),
            "rejected",
            r.reason,
        )
        for r in verdict.rejected
    ]
    national = community.national.identity
    parties = frozenset((*community.organisations, *community.partners))

    # Read what is stored under the write lock: a concurrent ingest of the same versions then
    # waits for ours and counts them as duplicates instead of failing on the unique key.
    with store.transaction():
        stored = store.stored_versions(obj["id"] for _, obj in verdict.accepted)
        seen_ids = set(stored)
        rows: list[ImportRow] = []
        levels: dict[tuple[str, ...], Resolved] = {}
        # Ids this input already stores a version of.  Validation kept one object per id and
        # instant, so another version of the same instant cannot come from the input itself.
        taken: set[str] = set()
        for _, obj in verdict.accepted:
            object_id = obj["id"]
            version = str(obj.get("modified") or obj.get("created") or "")
            versions = stored.get(object_id, [])
            same: list[str] = []
            if versions:
                instant = version_instant(version)
                same = [v.body for v in versions if version_instant(v.modified) == instant]
            if same and (canonical_json(obj) in same or any(same_version(json.loads(b), obj) for b in same)):
                summary.duplicates += 1
                continue
            reason = _refusal(obj, versions, object_id in taken, policy, provenance, national, parties)
            outcome = "rejected"
            if not reason and same:
                outcome = "conflict"
                reason = f"version {version} is already held with other content (the first is kept)"
            if reason:
                (summary.conflicts if outcome == "conflict" else summary.rejected).append((object_id, reason))
                refusals.append(
                    Refusal(
                        provenance.source_kind,
                        provenance.source,
                        provenance.collection,
                        object_id,
                        version,
                        outcome,
                        reason,
                    )
                )
                continue
            taken.add(object_id)
            if "granular_markings" in obj:
                refs = tuple(marking_refs_of(obj))
            else:
                refs = tuple(obj.get("object_marking_refs", ()))
            resolved = levels.get(refs)
            if resolved is None:
                resolved = levels[refs] = resolve_markings(refs, default, treatment)
            level = resolved.level
            if resolved.note:
                summary.notes.append(f"{object_id}: {resolved.note}")
            if versions:
                held = max(TLP(v.tlp) for v in versions)
                if held > level:
                    summary.notes.append(
                        f"{object_id}: version {version} is marked {level.label},"
                        f" lower than the stored {held.label}; kept {held.label}"
                    )
                    level = held
            if object_id in seen_ids:
                summary.updated += 1
            else:
                summary.new += 1
                seen_ids.add(object_id)
            rows.append(
                ImportRow(
                    object_id, version, obj["type"], obj.get("spec_version", "2.1"), int(level), refs, obj
                )
            )
        if progress is not None:
            progress("storing", 0, len(rows))
        # In id order the inserts walk the id indexes sequentially: markedly faster on big imports.
        rows.sort(key=lambda r: (r.id, r.version))
        store.put_import(rows, provenance=provenance, stored=stored)
        store.log_refusals(refusals)
        # issue 16: what falls in a party's declared assets becomes a pending notification
        stored_ids = {row.id for row in rows}
        store.route_objects(
            AssetIndex.of(community),
            [obj for _, obj in verdict.accepted if obj["id"] in stored_ids],
            provenance,
            format_ts(context.clock()),
        )
    if progress is not None:
        progress("storing", len(rows), len(rows))


def _version_text(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    version = obj.get("modified") or obj.get("created")
    return version[:40] if isinstance(version, str) else None


def _refusal(
    obj: dict[str, Any],
    versions: list[StoredVersion],
    taken: bool,
    policy: SourcePolicy,
    provenance: Provenance,
    national: str,
    parties: frozenset[str],
) -> str:
    """Why this source may not store this object (ownership, markings), or ''.  ``taken``: this
    input already stores another version of it."""
    object_id = obj["id"]
    creator = obj.get("created_by_ref")
    if obj["type"] == "marking-definition":
        level = level_of_marking(object_id)
        if level is not None:
            official = (
                tlp1_marking_definition(object_id)
                if object_id in TLP1_MARKING_IDS
                else marking_definition(level)
            )
            if canonical_json(official) != canonical_json(obj):
                return (
                    f"uses the id of the OASIS TLP:{level.slug.upper()} marking definition"
                    " with other content (TLP definitions cannot be redefined)"
                )
        if versions or taken:
            return "a marking definition never changes: this id is already defined otherwise"
    if isinstance(creator, str) and not policy.may_assert(creator):
        whose = " (the national CIRT's)" if creator == national else ""
        return (
            f"created_by_ref {creator}{whose} is not an identity {policy.label} may"
            " assert (sectors.yaml: identity, asserts)"
        )
    if obj["type"] == "identity" and not policy.may_assert(object_id):
        return f"the identity {object_id} is not one {policy.label} may assert"
    if not versions or policy.own:
        return ""
    if any(v.origin == "local" for v in versions) or any(v.creator == national for v in versions):
        return f"{object_id} is the national CIRT's own object: it changes only here"
    held_creator = next((v.creator for v in versions if v.creator), None)
    if held_creator is not None:
        if creator != held_creator:
            return (
                f"a new version must keep created_by_ref {held_creator} (STIX 2.1 §3.6:"
                " only its creator versions an object)"
            )
        return ""  # the source may assert it: checked above
    first = min(versions, key=lambda v: version_instant(v.modified))
    unaffiliated = policy.allowed is None  # files no party vouches for: the operator's choice
    if first.source != provenance.source and not (
        unaffiliated and first.origin == "import" and first.source not in parties
    ):
        return f"{object_id} came without created_by_ref from '{first.source}': only that source versions it"
    return ""


# --- reading files ----------------------------------------------------------------------------


@dataclass
class Incoming:
    """Objects read from a source, what the source was, and what reading it noted."""

    kind: str  # stix-2.1 | stix-2.0 | misp-event | misp-feed
    objects: list[Any]
    notes: list[str] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def read_source(path: str, *, stdin: BinaryIO | None = None, limits: ImportLimits | None = None) -> Incoming:
    """A STIX bundle, a MISP event (or restSearch answer), or a MISP feed directory."""
    limits = limits or ImportLimits()
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        data = stream.read(limits.max_bytes + 1)
        return classify(parse_json(data, "standard input", limits), "standard input")
    location = Path(path)
    if location.is_dir():
        return read_misp_feed(location, limits)
    if not location.exists():
        raise InputRejected(f"{path}: no such file")
    document = parse_json(read_bytes(location, limits), path, limits)
    return classify(document, path)


def classify(document: Any, name: str) -> Incoming:
    """Tell a STIX bundle (2.1 or 2.0), bare objects or a TAXII envelope from MISP JSON."""
    if isinstance(document, dict) and document.get("type") == "bundle":
        objects = document.get("objects", [])
        if not isinstance(objects, list):
            raise InputRejected(f"{name}: the bundle's 'objects' is not a list")
        # A 2.1 bundle has no spec_version; on a bundle it names its content's version (as
        # stix2 reads it): "2.0", or "2.1" as OpenCTI writes its exports.
        version = document.get("spec_version")
        if version == "2.0":
            notes, refused = upgrade_stix20(objects)
            return Incoming("stix-2.0", objects, notes, refused)
        if version is not None and version != "2.1":
            raise InputRejected(
                f"{name}: a bundle of spec_version '{str(version)[:20]}' (cirt reads STIX 2.1 and 2.0)"
            )
        return Incoming("stix-2.1", objects)
    if isinstance(document, dict) and (
        "Event" in document or "response" in document or is_bare_event(document)
    ):
        return _misp(events_in(document, name), "misp-event")
    if isinstance(document, dict) and isinstance(document.get("objects"), list) and "type" not in document:
        return Incoming("stix-2.1", document["objects"])
    if isinstance(document, dict) and isinstance(document.get("type"), str):
        return Incoming("stix-2.1", [document])
    if isinstance(document, list) and all(isinstance(o, dict) and "type" in o for o in document):
        return Incoming("stix-2.1", document)
    shape = type(document).__name__
    raise InputRejected(f"{name}: neither a STIX bundle nor a MISP event (a JSON {shape})")


def _misp(events: list[dict[str, Any]], kind: str) -> Incoming:
    """MISP events become STIX objects; their TLP notes are kept for the summary."""
    converted = events_to_stix(events)
    return Incoming(kind, converted.objects, converted.notes)


def read_misp_feed(directory: Path, limits: ImportLimits) -> Incoming:
    """A MISP feed: manifest.json naming one ``<uuid>.json`` event file each."""
    # Imported here: start-up time (it loads pymisp, ~105 ms of the 193 ms cirt.ingest took to
    # import), which no STIX or MISP file import needs.
    from cirt.misp.feed import read_feed

    return _misp(read_feed(directory, limits), "misp-feed")


@dataclass
class ImportResult:
    source: str
    kind: str
    summary: IngestSummary

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, **self.summary.to_dict()}


def import_file(
    context: Context,
    path: str,
    *,
    source: str | None = None,
    default_tlp: TLP | None = None,
    allow_custom: bool | None = None,
    stdin: BinaryIO | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """``cirt import``: read, validate, store; the file as a whole refused raises InputRejected.

    ``source`` names a party of sectors.yaml the file comes from (what it may assert), else the
    provenance name of an unaffiliated file (default: the file name).
    """
    name = source or ("stdin" if path == "-" else os.path.basename(os.path.normpath(path)))
    provenance = Provenance("import", name)
    try:
        incoming = read_source(path, stdin=stdin, limits=limits_of(context, provenance))
        if not incoming.objects:
            raise InputRejected(
                f"{path}: contains no objects to import"
                + "".join(f" ({note})" for note in incoming.notes[-1:])
            )
    except InputRejected as exc:
        log_refused(context, provenance, str(exc))
        raise
    summary = ingest(
        context,
        incoming.objects,
        provenance,
        default_tlp=default_tlp,
        allow_custom=allow_custom,
        refused=incoming.refused,
        notes=incoming.notes,
        progress=progress,
    )
    return ImportResult(name, incoming.kind, summary)


__all__ = [
    "ImportResult",
    "Incoming",
    "IngestSummary",
    "Rejected",
    "import_file",
    "ingest",
    "parse_json",
    "read_source",
]
