"""TAXII 2.1 requests as values: the query filters, paging tokens, media types and the error
format (sections 3.2, 3.6 and 3.6.1).  Pure: no I/O, no store.

``next`` is the date_added of the last object a page returned (keyset paging), encoded so that a
client treats it as opaque; a token that does not decode to a timestamp is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs

from cirt.stixtime import format_ts_micro, parse_ts

TAXII_MEDIA = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"
DEFAULT_MAX_PAGE = 1000
DEFAULT_MAX_CONTENT = 10 * 1024 * 1024  # bytes of a POST body

OBJECT_ID = re.compile(
    r"^[a-z0-9][a-z0-9-]*--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
OBJECT_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{0,249}$")
_SPEC = re.compile(r"^\d\.\d$")

# The filters each resource takes (section 3.6).
LIST_FILTERS = (
    "match[id]",
    "match[type]",
    "match[version]",
    "match[spec_version]",
    "added_after",
    "limit",
    "next",
)
OBJECT_FILTERS = ("match[version]", "match[spec_version]", "added_after", "limit", "next")
VERSIONS_FILTERS = ("match[spec_version]", "added_after", "limit", "next")


class TaxiiError(Exception):
    """An error response in the TAXII 2.1 error-message format."""

    def __init__(
        self, status: int, title: str, description: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(description)
        self.status, self.title, self.description, self.headers = status, title, description, headers


def error_body(status: int, title: str, description: str) -> bytes:
    """A TAXII 2.1 error message (section 3.6.1): every error we answer, ours or gunicorn's."""
    return json.dumps({"title": title, "http_status": str(status), "description": description}).encode(
        "utf-8"
    )


NOT_FOUND_OBJECT = TaxiiError(404, "Not Found", "no such object in this collection")


@dataclass
class Query:
    """The validated filters of a request (TAXII 2.1 section 3.6)."""

    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)
    spec_versions: tuple[str, ...] = ()
    added_after: str | None = None
    limit: int = DEFAULT_MAX_PAGE
    after: str | None = None  # decoded ``next``: the date_added of the last object returned

    @property
    def lower_bound(self) -> str | None:
        bounds = [b for b in (self.added_after, self.after) if b]
        return max(bounds) if bounds else None


def parse_query(text: str, allowed: Iterable[str], max_page: int) -> Query:
    """The filters of a query string; TaxiiError (400) for anything else or anything invalid."""
    allowed_set = set(allowed)
    try:
        params = parse_qs(text, keep_blank_values=True, strict_parsing=False, max_num_fields=64)
    except ValueError:
        raise TaxiiError(400, "Bad Request", "too many query parameters") from None
    query = Query(limit=max_page)
    for name, values in params.items():
        if name not in allowed_set:
            raise TaxiiError(400, "Bad Request", f"unsupported query parameter '{name[:40]}'")
        if len(values) != 1:
            raise TaxiiError(400, "Bad Request", f"query parameter '{name}' given more than once")
        value = values[0]
        if name == "limit":
            if not value.isdigit() or int(value) <= 0 or len(value) > 9:
                raise TaxiiError(400, "Bad Request", "limit must be a positive integer")
            query.limit = min(int(value), max_page)
        elif name == "added_after":
            query.added_after = _timestamp(value, name)
        elif name == "next":
            query.after = decode_next(value)
        else:
            items = tuple(v.strip() for v in value.split(","))
            if not all(items):
                raise TaxiiError(400, "Bad Request", f"{name} has an empty value")
            if name == "match[id]":
                _check_all(items, OBJECT_ID, name)
                query.ids = items
            elif name == "match[type]":
                _check_all(items, OBJECT_TYPE, name)
                query.types = items
            elif name == "match[spec_version]":
                _check_all(items, _SPEC, name)
                query.spec_versions = items
            elif name == "match[version]":
                for item in items:
                    if item not in ("first", "last", "all"):
                        _timestamp(item, name)
                query.versions = items
    return query


def _check_all(items: tuple[str, ...], pattern: re.Pattern[str], name: str) -> None:
    for item in items:
        if not pattern.match(item):
            raise TaxiiError(400, "Bad Request", f"{name}: '{item[:80]}' is not valid")


def _timestamp(value: str, name: str) -> str:
    try:
        return format_ts_micro(parse_ts(value))
    except ValueError:
        raise TaxiiError(
            400,
            "Bad Request",
            f"{name} must be an RFC 3339 UTC timestamp such as 2026-03-10T14:00:00.000000Z",
        ) from None


def encode_next(added: str) -> str:
    return base64.urlsafe_b64encode(added.encode("ascii")).decode("ascii").rstrip("=")


def decode_next(token: str) -> str:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        return format_ts_micro(parse_ts(text))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise TaxiiError(400, "Bad Request", "next is not a token this server issued") from None


def check_accept(accept: str | None) -> None:
    """TaxiiError (406) unless the Accept header takes TAXII 2.1 JSON (or anything)."""
    if accept is None or not accept.strip():
        return
    for item in accept.split(","):
        media, *params = [p.strip() for p in item.split(";")]
        media = media.lower()
        if media in ("*/*", "application/*"):
            return
        if media == "application/taxii+json":
            version = [p.split("=", 1)[1].strip() for p in params if p.lower().startswith("version=")]
            if not version or version[0] == "2.1":
                return
    raise TaxiiError(406, "Not Acceptable", f"this server answers {TAXII_MEDIA} only")
