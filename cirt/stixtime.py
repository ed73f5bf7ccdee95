"""STIX timestamps, durations and identifiers.

Every clock, duration and id in the toolkit comes through here so that tests can pass fixed ones in.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cirt.errors import ConfigError, InvalidValue

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
        raise ConfigError(
            "config.toml", None, "cirt.timezone", f"'{name}' is not a time zone (e.g. America/Belize)"
        ) from None


_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


def parse_duration(value: object) -> timedelta:
    """``30m``, ``4h``, ``2d``, ``1w``, ``1d12h``: elapsed time, never wall-clock arithmetic."""
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().lower().replace(" ", "")
    match = _DURATION.match(text) if not isinstance(value, bool) else None
    if not text or match is None:
        raise ValueError(f"'{value}' is not a duration such as 30m, 4h, 2d or 1d12h")
    weeks, days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    delta = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    if delta <= timedelta(0):
        raise ValueError("a duration must be longer than zero")
    if delta > timedelta(days=366):
        raise ValueError("a duration longer than a year is not a deadline")
    return delta


def format_duration(delta: timedelta) -> str:
    """The inverse of :func:`parse_duration`, e.g. ``1d12h``; sub-minute parts are dropped."""
    minutes = int(abs(delta).total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    out = "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n)
    return ("-" if delta < timedelta(0) else "") + (out or "0m")


_DAYS = {"yesterday": -1, "today": 0, "tomorrow": 1}


def parse_when(text: str, now: datetime, zone: ZoneInfo, *, past: bool = False) -> datetime:
    """An instant as an analyst types it, read in the CIRT's zone (``zone``), as aware UTC.

    ``2026-03-10 02:00`` or any ISO 8601 form (an offset or ``Z`` is honoured),
    ``tomorrow 09:00`` / ``today 17:30`` / ``yesterday 23:10``, ``09:00`` (today), or a
    duration from ``now`` (``4h``, ``1d12h``): later, or earlier when ``past`` (``6h ago`` is
    always earlier).  Wall-clock times are local to the CIRT, so a deadline "tomorrow 09:00" is
    09:00 in Belize whatever the server's zone.
    """
    value = " ".join(text.strip().lower().split())
    local_now = now.astimezone(zone)
    ago = value.endswith(" ago")
    duration_text = value.removesuffix(" ago")
    try:
        delta = parse_duration(duration_text)
    except ValueError:
        delta = None
    if delta is not None:
        return (now - delta if past or ago else now + delta).astimezone(UTC)
    day, _, clock = value.partition(" ")
    if day in _DAYS or (":" in day and not clock and "-" not in day):
        if day not in _DAYS:
            day, clock = "today", day
        try:
            at = datetime.strptime(clock, "%H:%M").time()
        except ValueError:
            raise InvalidValue(f"'{text}': give a time as HH:MM, e.g. '{day} 09:00'") from None
        date = local_now.date() + timedelta(days=_DAYS[day])
        return datetime.combine(date, at, tzinfo=zone).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(value.upper().replace(" ", "T"))
    except ValueError:
        raise InvalidValue(
            f"'{text}' is not a time: give a duration (4h, 1d12h), 'tomorrow 09:00', "
            "'09:00' or a date and time such as 2026-03-10 02:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)
