"""The one JSON parser of everything that crosses the boundary inbound.

Files, standard input, MISP feeds, the TAXII inbox, TAXII pages and MISP answers are all read
here, so a peer's bytes meet one set of rules: the byte limit before parsing, no key twice in one
object, no NaN or Infinity, only numbers JSON interchange carries, bounded depth.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from cirt.errors import InputRejected
from cirt.limits import ImportLimits


class _DuplicateKey(ValueError):
    pass


class _NotJson(ValueError):
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


# RFC 7493 (I-JSON) §2.2: numbers beyond IEEE 754 double precision do not interchange.
_EXACT_INTEGER = 2**53 - 1


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"the number {text[:40]} is beyond what JSON interchange allows (RFC 7493 §2.2)")
    return value


def _exact_int(text: str) -> int:
    value = int(text)
    if len(text) > 15 and abs(value) > _EXACT_INTEGER:
        raise _NotJson(
            f"the integer {text[:40]}{'…' if len(text) > 40 else ''} is beyond what"
            " JSON interchange allows (RFC 7493 §2.2)"
        )
    return value


def parse_json(data: bytes, name: str, limits: ImportLimits | None = None) -> Any:
    """The one JSON parser of inbound data: refuses what is unusable as a whole with one sentence.

    Refused: more than ``[import] max_bytes`` (before parsing), a key twice in one object,
    NaN/Infinity, numbers JSON interchange cannot carry (``1e400``, integers beyond 2**53),
    nesting deeper than the interpreter's recursion limit, text that is not UTF-8 JSON.
    """
    limits = limits or ImportLimits()
    if len(data) > limits.max_bytes:
        raise InputRejected(
            f"{name}: {len(data):,} bytes (the limit is {limits.max_bytes:,}, [import] max_bytes)"
        )
    try:
        return json.loads(
            data,
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_no_constants,
            parse_float=_finite_float,
            parse_int=_exact_int,
        )
    except _NotJson as exc:
        raise InputRejected(f"{name}: not valid JSON: {exc}") from None
    except _DuplicateKey as exc:
        raise InputRejected(
            f"{name}: a JSON object has the key '{str(exc)[:80]}' twice; refusing to guess which one is meant"
        ) from None
    except RecursionError:
        raise InputRejected(f"{name}: JSON nested too deeply to be STIX or MISP") from None
    except UnicodeDecodeError as exc:
        raise InputRejected(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputRejected(
            f"{name}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def read_bytes(path: Path, limits: ImportLimits) -> bytes:
    """A file's bytes, refused by its size before it is read."""
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise InputRejected(
                f"{path}: {size:,} bytes (the limit is {limits.max_bytes:,}, [import] max_bytes)"
            )
        return path.read_bytes()
    except OSError as exc:
        raise InputRejected(f"{path}: cannot be read ({exc.strerror})") from None
