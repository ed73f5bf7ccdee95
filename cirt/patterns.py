"""STIX patterns: the quick forms analysts type, built with correct quoting, and validation."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from cirt.errors import InvalidValue

_HEX = {"sha256": 64, "md5": 32, "sha1": 40}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def quote(value: str) -> str:
    """A STIX pattern string literal: backslash and single quote escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ip_pattern(value: str) -> str:
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise InvalidValue(f"'{value}' is not an IP address or range") from None
    kind = "ipv4-addr" if network.version == 4 else "ipv6-addr"
    text = str(network.network_address) if network.num_addresses == 1 else str(network)
    return f"[{kind}:value = {quote(text)}]"


def domain_pattern(value: str) -> str:
    domain = value.strip().lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise InvalidValue(f"'{value}' is not a domain name")
    return f"[domain-name:value = {quote(domain)}]"


def url_pattern(value: str) -> str:
    url = value.strip()
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$", url):
        raise InvalidValue(f"'{value}' is not a URL (scheme://…)")
    return f"[url:value = {quote(url)}]"


def hash_pattern(algorithm: str, value: str) -> str:
    digest = value.strip().lower()
    if len(digest) != _HEX[algorithm] or not all(c in "0123456789abcdef" for c in digest):
        raise InvalidValue(
            f"'{value}' is not a {algorithm.upper()} digest ({_HEX[algorithm]} hexadecimal digits)"
        )
    name = {"sha256": "'SHA-256'", "md5": "MD5", "sha1": "'SHA-1'"}[algorithm]
    return f"[file:hashes.{name} = {quote(digest)}]"


def email_pattern(value: str) -> str:
    address = value.strip()
    if not _EMAIL.match(address):
        raise InvalidValue(f"'{value}' is not an e-mail address")
    return f"[email-addr:value = {quote(address)}]"


@lru_cache(maxsize=4096)
def pattern_error(pattern: str) -> str | None:
    """Why a STIX 2.1 pattern is invalid, or None. Uses the OASIS stix2-patterns grammar."""
    # start-up: the ANTLR grammar (~20 ms) loads only when a pattern is checked
    from stix2patterns.validator import run_validator

    errors = run_validator(pattern, stix_version="2.1")
    return "; ".join(errors) if errors else None


def validate_pattern(pattern: str) -> str:
    error = pattern_error(pattern)
    if error:
        raise InvalidValue(f"invalid STIX pattern {pattern!r}: {error}")
    return pattern
