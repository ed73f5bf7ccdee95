"""The store: every STIX object with all its versions, provenance, indexes, audience, logs.

Callers see one class, ``SQLStore``, over a ``Database`` adapter (SQLite by default, PostgreSQL by
URL).  ``open_store`` picks the adapter; nothing above this package knows which engine it is on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any


@dataclass(frozen=True)
class Provenance:
    """Where a version came from: our analysts, a TAXII peer, an import file, a MISP server."""

    source_kind: str  # local | taxii | import | misp
    source: str  # analyst name, peer id, file name
    collection: str | None = None
    markings: tuple[str, ...] = field(default=())


LOCAL = "local"


@dataclass(frozen=True)
class StoredObject:
    """One stored version: the serialized STIX object plus what the store knows about it."""

    seq: int
    id: str
    modified: str
    type: str
    spec_version: str
    added: str
    tlp: int
    origin: str
    body: str

    @cached_property
    def obj(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


# ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` as the C encoder
# it builds on every call, built once (a bulk import encodes every object).  No circular-reference
# markers: what is stored is JSON that was parsed or validated, never self-referential.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_ENCODE = (
    c_make_encoder(None, _CANONICAL.default, encode_basestring, None, ":", ",", True, False, True)
    if c_make_encoder is not None
    else None
)


def canonical_json(obj: dict[str, Any]) -> str:
    """The one serialization the store keeps and hashes: sorted keys, no spaces, UTF-8."""
    if _ENCODE is None:
        return _CANONICAL.encode(obj)
    return "".join(_ENCODE(obj, 0))


def version_of(obj: dict[str, Any]) -> str:
    """The version key of an object: ``modified``, else ``created``, else '' (SCOs)."""
    return str(obj.get("modified") or obj.get("created") or "")
