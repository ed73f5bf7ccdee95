"""The end of an indicator's life: revoked, expired, or found a false positive. Pure.

Each is a new version of the indicator (STIX 2.1 versioning: same id, later ``modified``), so it
reaches every partner that received an earlier version by the channel that carried it: TAXII
push sends versions a partner has not had, MISP push re-sends an event whose attribute changed
(``to_ids`` off for a retired indicator).  Only the indicator's creator may make the version.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cirt.errors import InvalidValue
from cirt.stixtime import later_than

ACTIONS = ("revoke", "expire", "false-positive")
FALSE_POSITIVE = "false-positive"


def retire(indicator: dict[str, Any], action: str, now: datetime) -> dict[str, Any]:
    """The new version: ``revoked``; ``valid_until`` now; or the false-positive label (and
    ``valid_until`` now, so that nobody keeps blocking it)."""
    if action not in ACTIONS:
        raise InvalidValue(f"'{action}' is not a lifecycle action ({', '.join(ACTIONS)})")
    if indicator.get("type") != "indicator":
        raise InvalidValue(f"{indicator.get('id')} is not an indicator")
    if indicator.get("revoked"):
        raise InvalidValue(f"{indicator['id']} is revoked already: it has no later versions")
    new = copy.deepcopy(indicator)
    stamp = later_than(str(indicator["modified"]), now)
    new["modified"] = stamp
    if action == "revoke":
        new["revoked"] = True
        return new
    if retired(indicator):
        raise InvalidValue(f"{indicator['id']} is expired or a false positive already")
    if stamp <= str(indicator.get("valid_from", "")):
        raise InvalidValue(
            f"{indicator['id']} is valid only from {indicator['valid_from']}: revoke it instead"
        )
    new["valid_until"] = stamp
    if action == FALSE_POSITIVE:
        new["labels"] = [*indicator.get("labels", []), FALSE_POSITIVE]
    return new


def retired(indicator: Mapping[str, Any]) -> bool:
    """Should nobody block on it any more: revoked, a false positive, or expired by its creator
    (``valid_until`` no later than its own version)?"""
    if indicator.get("revoked") or FALSE_POSITIVE in indicator.get("labels", ()):
        return True
    valid_until = indicator.get("valid_until")
    return bool(valid_until) and str(valid_until) <= str(indicator.get("modified", ""))
