"""Every reference a STIX object holds, wherever it sits.

STIX 2.1 names every identifier reference ``*_ref`` (one id) or ``*_refs`` (a list of ids), at the
top level, inside extensions, inside embedded types (``granular_markings[].marking_ref``,
``kill_chain_phases``, ``external_references``), inside dictionaries and in custom properties.
The gate (what a recipient may follow) and the validator (what must resolve) both ask this one
walker, so a reference one of them can see is never invisible to the other.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

RefPath = tuple[str | int, ...]
"""Where a reference sits: keys and list indices from the top of the object."""


def walk_references(value: Any, path: RefPath = ()) -> Iterator[tuple[RefPath, str]]:
    """``(path, id)`` of every string under a ``*_ref`` key or in a ``*_refs`` list, any depth.

    A ``*_refs`` entry's path ends with its index.  Values of the wrong shape (a ``*_ref`` that
    is not a string) are not references; the validator reports them by type.
    """
    # (dict and list are tested before the abstract Mapping: the gate walks every object it
    # releases, and an ABC check costs several times a concrete one)
    if isinstance(value, (dict, Mapping)):
        for key, item in value.items():
            if isinstance(item, str):
                if isinstance(key, str) and key.endswith("_ref"):
                    yield (*path, key), item
                continue
            if not isinstance(key, str):
                continue
            if isinstance(item, list) and key.endswith("_refs"):
                for index, entry in enumerate(item):
                    if isinstance(entry, str):
                        yield (*path, key, index), entry
                    elif isinstance(entry, (dict, list, Mapping)):
                        yield from walk_references(entry, (*path, key, index))
            elif isinstance(item, (dict, list, Mapping)):
                yield from walk_references(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, (dict, list, Mapping)):
                yield from walk_references(item, (*path, index))


MARKING_KEYS = frozenset({"object_marking_refs", "granular_markings"})
"""Top-level properties whose references are markings, not content."""


def content_references(obj: Mapping[str, Any]) -> list[str]:
    """Ids an object points at, except its markings and its ``created_by_ref``."""
    return [
        ref
        for path, ref in walk_references(obj)
        if path[0] not in MARKING_KEYS and path[0] != "created_by_ref"
    ]


def marking_references(obj: Mapping[str, Any]) -> list[str]:
    """Marking definitions an object uses, object-level and granular."""
    return [ref for path, ref in walk_references(obj) if path[0] in MARKING_KEYS]
