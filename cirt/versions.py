"""Which version of a STIX object is which: ordered by the instant its timestamp names.

``2026-03-01T00:00:00Z``, ``…00.0Z`` and ``…00.000Z`` are one version; ``…00Z`` comes before
``…00.500Z`` (as text it sorts after).  Pure: the validator, ingest and the store all ask here.
"""

from __future__ import annotations

import re
from typing import Any

_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z\Z")


def version_instant(version: str) -> tuple[str, int]:
    """The order key of a version: its instant, however the timestamp spells the fraction.

    The empty version of an SCO sorts first.
    """
    match = _TIMESTAMP.match(version)
    if match is None:
        return version, 0
    return match.group(1), int((match.group(2) or "").ljust(9, "0"))


def same_version(held: dict[str, Any], obj: dict[str, Any]) -> bool:
    """One version, however its timestamps are spelled (``…00Z`` is ``…00.000Z``)."""
    stamps = ("created", "modified")
    if any(version_instant(str(held.get(k, ""))) != version_instant(str(obj.get(k, ""))) for k in stamps):
        return False
    return {k: v for k, v in held.items() if k not in stamps} == {
        k: v for k, v in obj.items() if k not in stamps
    }
