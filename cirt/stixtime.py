"""STIX timestamps and identifiers.

Every clock and id in the toolkit comes through here so that tests can pass fixed ones in.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cirt.errors import ConfigError

Clock = Callable[[], datetime]
IdFactory = Callable[[str], str]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(stix_type: str) -> str:
    return f"{stix_type}--{uuid.uuid4()}"


def format_ts(moment: datetime) -> str:
    """A STIX timestamp with millisecond precision, always UTC and ``Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_ts_micro(moment: datetime) -> str:
    """Microsecond precision, as TAXII 2.1 asks of ``date_added``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    """Parse an RFC 3339 UTC timestamp with any number of fractional digits."""
    if not text.endswith("Z"):
        raise ValueError(f"'{text}' is not a UTC timestamp ending in Z")
    body = text[:-1]
    main, _, frac = body.partition(".")
    moment = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    if frac:
        if not frac.isdigit():
            raise ValueError(f"'{text}' has a malformed fraction of a second")
        moment = moment.replace(microsecond=int(frac[:6].ljust(6, "0")))
    return moment


def later_than(previous: str, now: datetime) -> str:
    """A millisecond timestamp strictly after ``previous``: versions must never share ``modified``."""
    from datetime import timedelta

    stamp = now
    floor = parse_ts(previous)
    if stamp <= floor:
        stamp = floor + timedelta(milliseconds=1)
    return format_ts(stamp)


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    """``2026-03-10 08:00 CST``: a UTC instant as the CIRT reads it."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def time_zone(name: str) -> ZoneInfo:
    """The CIRT's zone from config; an unknown name is a configuration error, said plainly."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("config.toml", None, "cirt.timezone",
                          f"'{name}' is not a time zone (e.g. America/Belize)") from None
