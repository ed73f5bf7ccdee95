"""What makes a stored object *plain* for the TAXII gate shortcut, worked out once at write time.

A plain object has no references but its markings and its creator, no granular markings, no
extensions, TLP markings only, and is none of the gate's ``NEVER_PLAIN`` types: the gate has
nothing to redact and nothing to follow in it, so its verdict is the TLP rule for its level,
origin and audience alone
(``cirt.taxii.release.Gatekeeper``).  Everything here depends on the object alone; what depends
on the community (is the creator known, what is the default TLP) is left for read time.  The
store keeps the result in the ``plain`` column of ``objects`` (migration 6), written by both
write paths; rows written before that column existed hold NULL and are worked out when read.

Facts, as stored:

* ``"-"``: not plain;
* ``"<L>"``: plain, with TLP level ``L`` (0-4) from its markings, or ``d`` when it has no
  marking (the community default then applies);
* ``"<L>:<creator>"``: the same, and its ``created_by_ref``, which must be an identity the
  community knows for the object to be plain.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from cirt.stix_refs import content_references
from cirt.tlp import level_of_marking

NOT_PLAIN = "-"
NO_MARKING = "d"
_CREATOR = '"created_by_ref":"'
_MARKINGS = '"object_marking_refs":['


def plain_facts(stix_type: str, body: str, parsed: Callable[[], dict[str, Any]]) -> str:
    """The plain facts of an object from its canonical JSON text ``body``.

    A flat object (no nested JSON object in its text) is read from the text itself: every key
    is then top-level, and canonical JSON escapes quotes inside strings, so ``_ref":`` only ever
    matches a key.  A nested one is checked on ``parsed()`` with the one reference walker, ``cirt.stix_refs``.
    """
    # start-up: every command loads the store (this module), few need the gate (~130 ms more)
    from cirt.gate import NEVER_PLAIN

    if stix_type in NEVER_PLAIN or '"granular_markings":' in body:
        return NOT_PLAIN
    if body.find("{", 1) >= 0:
        return _parsed_facts(parsed())
    refs = body.count('_ref":') + body.count('_refs":')
    creator_at = body.find(_CREATOR)
    markings_at = body.find(_MARKINGS)
    if refs != (creator_at >= 0) + (markings_at >= 0):
        return NOT_PLAIN
    creator = None
    if creator_at >= 0:
        start = creator_at + len(_CREATOR)
        creator = body[start : body.index('"', start)]
    inside = ""
    if markings_at >= 0:
        start = markings_at + len(_MARKINGS)
        inside = body[start : body.index("]", start)]
    return _flat_facts(inside, creator)


@lru_cache(maxsize=4096)
def _flat_facts(inside: str, creator: str | None) -> str:
    """Facts of the text inside ``"object_marking_refs":[...]`` and the creator: a few
    distinct values across a whole collection."""
    return _facts([quoted.strip('"') for quoted in inside.split(",") if quoted], creator)


def _parsed_facts(obj: dict[str, Any]) -> str:
    if "extensions" in obj or content_references(obj):
        return NOT_PLAIN  # an extension's definition has a marking of its own: the whole gate
    creator = obj.get("created_by_ref")
    if creator is not None and not isinstance(creator, str):
        return NOT_PLAIN
    markings = obj.get("object_marking_refs") or []
    if not isinstance(markings, list) or not all(isinstance(m, str) for m in markings):
        return NOT_PLAIN
    return _facts(markings, creator)


def _facts(markings: list[str], creator: str | None) -> str:
    """The gate's reading of TLP markings (the highest; none: the default) with the creator."""
    if markings:
        found = 0
        for marking in markings:
            level = level_of_marking(marking)
            if level is None:
                return NOT_PLAIN  # translated markings need their definitions: the whole gate
            found = max(found, int(level))
        text = str(found)
    else:
        text = NO_MARKING
    return text if creator is None else f"{text}:{creator}"
