"""Taking STIX in: files, TAXII pages and MISP events, validated, then stored all together.

``ingest`` is the one entry point every channel uses (``cirt import``, the TAXII client, MISP
pull).  It validates each object (``cirt.stix_validation``), skips versions the store already
has, never lets a new version lower the TLP the store holds for that object, and writes what
passed in one transaction with its provenance: a crash leaves either everything or nothing.

``read_source`` turns a file, standard input or a MISP feed directory into objects, refusing a
file that is unusable as a whole (not JSON, nested too deep, not STIX or MISP) with one sentence.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from cirt.errors import InputRejected
from cirt.misp_tlp import Resolved, marking_refs_of, resolve_markings
from cirt.stix_validation import Rejected, upgrade_stix20, validate_objects
from cirt.store import Provenance
from cirt.store.ingest_state import ImportRow
from cirt.tlp import TLP

if TYPE_CHECKING:
    from cirt.workspace import Workspace

Progress = Callable[[str, int, int], None]

# Exactly ``cirt.store.canonical_json``, as the C encoder ``json.dumps`` would build for these
# arguments on every call (sort_keys, compact separators, ensure_ascii=False), built once.  No
# circular-reference markers: what reaches it passed validation, whose nesting is bounded.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_ENCODE = c_make_encoder(None, _CANONICAL.default, encode_basestring, None, ":", ",", True,
                         False, True) if c_make_encoder is not None else None


def canonical_text(obj: dict[str, Any]) -> str:
    """``cirt.store.canonical_json(obj)``, faster."""
    if _ENCODE is None:
        return _CANONICAL.encode(obj)
    return "".join(_ENCODE(obj, 0))


@dataclass
class IngestSummary:
    """What one ingest did: counts, every rejection with its reason, and notes."""

    new: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.new + self.updated

    def to_dict(self) -> dict[str, Any]:
        return {"new": self.new, "updated": self.updated, "duplicates": self.duplicates,
                "rejected": [{"object": ref, "reason": reason} for ref, reason in self.rejected],
                "notes": list(self.notes)}


def import_setting(ws: Workspace, name: str, default: Any) -> Any:
    """``[import]`` settings of config.toml (``allow_custom``)."""
    section = ws.config.raw.get("import", {})
    return section.get(name, default) if isinstance(section, dict) else default


def ingest(ws: Workspace, objects: Sequence[Any], provenance: Provenance, *,
           default_tlp: TLP | None = None, allow_custom: bool | None = None,
           check_references: bool = True, refused: dict[int, str] | None = None,
           notes: Sequence[str] = (), progress: Progress | None = None) -> IngestSummary:
    """Validate ``objects`` and store those that pass, all in one transaction.

    ``default_tlp`` applies to objects without a TLP marking (else the community default);
    ``allow_custom`` keeps custom objects and properties (else the ``[import] allow_custom``
    setting, off by default).  ``check_references=False`` lets a caller that receives a
    collection page by page accept references to objects of later pages.
    """
    if allow_custom is None:
        allow_custom = bool(import_setting(ws, "allow_custom", False))
    default = default_tlp if default_tlp is not None else ws.community.default_tlp
    treatment = ws.community.marking_treatment
    summary = IngestSummary(notes=list(notes))
    # Many small acyclic containers: the cycle collector would only rescan them over and over.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _ingest(ws, objects, provenance, summary, default, treatment, allow_custom,
                check_references, refused, progress)
    finally:
        if collecting:
            gc.enable()
    return summary


def _ingest(ws: Workspace, objects: Sequence[Any], provenance: Provenance,
            summary: IngestSummary, default: TLP, treatment: dict[str, TLP], allow_custom: bool,
            check_references: bool, refused: dict[int, str] | None,
            progress: Progress | None) -> None:
    total = len(objects)

    def validation_progress(done: int) -> None:
        if progress is not None:
            progress("validating", done, total)

    verdict = validate_objects(objects, allow_custom=allow_custom,
                               known_ids=ws.store.existing_ids,
                               check_references=check_references, refused=refused,
                               progress=validation_progress)
    summary.rejected = [(r.ref, r.reason) for r in verdict.rejected]
    summary.duplicates = verdict.duplicates_in_input

    # Read what is stored under the write lock: a concurrent ingest of the same versions then
    # waits for ours and counts them as duplicates instead of failing on the unique key.
    with ws.store.transaction():
        stored = ws.store.stored_versions(obj["id"] for _, obj in verdict.accepted)
        seen_ids = set(stored)
        rows: list[ImportRow] = []
        levels: dict[tuple[str, ...], Resolved] = {}
        encode = canonical_text
        for _, obj in verdict.accepted:
            object_id = obj["id"]
            version = str(obj.get("modified") or obj.get("created") or "")
            versions = stored.get(object_id)
            if versions and any(v.modified == version for v in versions):
                summary.duplicates += 1
                continue
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
                    summary.notes.append(f"{object_id}: version {version} is marked {level.label},"
                                         f" lower than the stored {held.label}; kept {held.label}")
                    level = held
            if object_id in seen_ids:
                summary.updated += 1
            else:
                summary.new += 1
                seen_ids.add(object_id)
            rows.append(ImportRow(object_id, version, obj["type"], obj.get("spec_version", "2.1"),
                                  int(level), encode(obj), refs))
        if progress is not None:
            progress("storing", 0, len(rows))
        # In id order the inserts walk the id indexes sequentially: markedly faster on big imports.
        rows.sort(key=lambda r: (r.id, r.version))
        ws.store.put_import(rows, provenance=provenance, stored=stored)
        ws.routes.record_stored(verdict.accepted, rows, provenance)  # issue 16: routing by assets
    if progress is not None:
        progress("storing", len(rows), len(rows))


# --- reading files ----------------------------------------------------------------------------

@dataclass
class Incoming:
    """Objects read from a source, what the source was, and what reading it noted."""

    kind: str  # stix-2.1 | stix-2.0 | misp-event | misp-feed
    objects: list[Any]
    notes: list[str] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _no_constants(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


class _NotJson(ValueError):
    pass


def parse_json(data: bytes, name: str) -> Any:
    """JSON text to Python, refusing what is unusable as a whole with one sentence."""
    try:
        return json.loads(data, object_pairs_hook=_no_duplicate_keys,
                          parse_constant=_no_constants)
    except _NotJson as exc:
        raise InputRejected(f"{name}: not valid JSON: {exc}") from None
    except _DuplicateKey as exc:
        raise InputRejected(f"{name}: a JSON object has the key '{str(exc)[:80]}' twice;"
                            " refusing to guess which one is meant") from None
    except RecursionError:
        raise InputRejected(f"{name}: JSON nested too deeply to be STIX or MISP") from None
    except UnicodeDecodeError as exc:
        raise InputRejected(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputRejected(f"{name}: not valid JSON: {exc.msg} at line {exc.lineno}"
                            f" column {exc.colno}") from None


def read_source(path: str, *, stdin: BinaryIO | None = None) -> Incoming:
    """A STIX bundle, a MISP event (or restSearch answer), or a MISP feed directory."""
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return classify(parse_json(stream.read(), "standard input"), "standard input")
    location = Path(path)
    if location.is_dir():
        return read_misp_feed(location)
    if not location.exists():
        raise InputRejected(f"{path}: no such file")
    try:
        data = location.read_bytes()
    except OSError as exc:
        raise InputRejected(f"{path}: cannot be read ({exc.strerror})") from None
    document = parse_json(data, path)
    del data
    return classify(document, path)


def classify(document: Any, name: str) -> Incoming:
    """Tell a STIX bundle (2.1 or 2.0), bare objects or a TAXII envelope from MISP JSON."""
    if isinstance(document, dict) and document.get("type") == "bundle":
        objects = document.get("objects", [])
        if not isinstance(objects, list):
            raise InputRejected(f"{name}: the bundle's 'objects' is not a list")
        version = document.get("spec_version")
        if version == "2.0":
            notes, refused = upgrade_stix20(objects)
            return Incoming("stix-2.0", objects, notes, refused)
        if version is not None:
            raise InputRejected(f"{name}: a bundle of spec_version '{str(version)[:20]}'"
                                " (cirt reads STIX 2.1 and 2.0)")
        return Incoming("stix-2.1", objects)
    if isinstance(document, dict) and ("Event" in document or "response" in document):
        from cirt.misp import events_in

        return _misp(events_in(document, name), "misp-event")
    if isinstance(document, dict) and isinstance(document.get("objects"), list) \
            and "type" not in document:
        return Incoming("stix-2.1", document["objects"])
    if isinstance(document, dict) and isinstance(document.get("type"), str):
        return Incoming("stix-2.1", [document])
    if isinstance(document, list) and all(isinstance(o, dict) and "type" in o for o in document):
        return Incoming("stix-2.1", document)
    shape = type(document).__name__
    raise InputRejected(f"{name}: neither a STIX bundle nor a MISP event (a JSON {shape})")


def _misp(events: list[dict[str, Any]], kind: str) -> Incoming:
    """MISP events become STIX objects; their TLP notes are kept for the summary."""
    from cirt.misp import events_to_stix

    converted = events_to_stix(events)
    return Incoming(kind, converted.objects, converted.notes)


def read_misp_feed(directory: Path) -> Incoming:
    """A MISP feed: manifest.json naming one ``<uuid>.json`` event file each."""
    from cirt.misp import read_feed

    return _misp(read_feed(directory), "misp-feed")


@dataclass
class ImportResult:
    source: str
    kind: str
    summary: IngestSummary

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, **self.summary.to_dict()}


def import_file(ws: Workspace, path: str, *, source: str | None = None,
                default_tlp: TLP | None = None, allow_custom: bool | None = None,
                stdin: BinaryIO | None = None, progress: Progress | None = None) -> ImportResult:
    """``cirt import``: read, validate, store; the file as a whole refused raises InputRejected."""
    collecting = gc.isenabled()
    gc.disable()  # parsing builds a large acyclic tree: nothing for the cycle collector
    try:
        incoming = read_source(path, stdin=stdin)
    finally:
        if collecting:
            gc.enable()
    name = source or ("stdin" if path == "-" else os.path.basename(os.path.normpath(path)))
    if not incoming.objects:
        raise InputRejected(f"{path}: contains no objects to import")
    summary = ingest(ws, incoming.objects, Provenance("import", name), default_tlp=default_tlp,
                     allow_custom=allow_custom, refused=incoming.refused, notes=incoming.notes,
                     progress=progress)
    return ImportResult(name, incoming.kind, summary)


__all__ = ["ImportResult", "Incoming", "IngestSummary", "Rejected", "import_file", "ingest",
           "read_source"]
