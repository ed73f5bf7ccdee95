"""Every regular expression applied to what a peer sends runs in linear time.

A nested quantifier whose body can match the same text in two ways backtracks exponentially
when the rest of the expression fails (the pattern fast path once took 12.6 s on the OASIS
poisonivy example and never finished on ``[file:hashes.'SHA-256' = '<64 hex>' AND ...]``).
The property: on long adversarial inputs (fragments that stress each expression, repeated
thousands of times, then a tail that makes the match fail late) every expression answers at
once.  Catastrophic backtracking on these lengths does not finish in any time, so the bound is
loose on purpose: it detects exponential and quadratic blow-ups, not speed.
"""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from cirt import gate, observables, stix_validation, versions
from cirt.stix_validation import check_object, pattern_errors, simple_pattern
from cirt.taxii import query

# Each expression with the way cirt applies it: ``match`` is anchored at the start, ``search``
# (and ``sub``) try every position.
PEER_EXPRESSIONS: dict[str, tuple[re.Pattern[str], str]] = {
    "simple pattern": (stix_validation._SIMPLE_PATTERN, "match"),
    "string literals": (stix_validation._LITERALS, "search"),
    "uuid": (stix_validation._UUID, "match"),
    "type": (stix_validation._TYPE21, "match"),
    "timestamp": (stix_validation._TIMESTAMP, "match"),
    "dictionary key": (stix_validation._DICT_KEY, "match"),
    "custom property": (stix_validation._CUSTOM_PROP, "match"),
    "hex": (stix_validation._HEX, "match"),
    "selector": (stix_validation._SELECTOR, "match"),
    "control characters": (stix_validation._CONTROL, "search"),
    "version instant": (versions._TIMESTAMP, "match"),
    "extension path": (gate._EXTENSION_PATH, "search"),
    "taxii id": (query.OBJECT_ID, "match"),
    "taxii type": (query.OBJECT_TYPE, "match"),
    # issue 13: values read out of stored patterns and observables for the search index
    "one comparison": (observables._ONE_COMPARISON, "fullmatch"),
    "domain": (observables._DOMAIN, "match"),
    "dotted quad": (observables._DOTTED, "fullmatch"),
    "e-mail": (observables._EMAIL, "match"),
}

FRAGMENTS = [
    "a",
    "0",
    "-",
    ".",
    "'",
    "\\",
    "\\'",
    " ",
    ":",
    "[",
    "]",
    "_",
    "aa.",
    "a-",
    "[0].",
    "hashes.'SHA-256'",
    "0123456789abcdef",
    "' AND file:name = '",
    "--",
    "2026-01-01T00:00:00",
    ".1",
    "x_",
    "extension-definition--a.",
]
HEAD = [
    "",
    "[file:hashes.'SHA-256' = '",
    "[ipv4-addr:value = '",
    "indicator--",
    "extensions.extension-definition--",
    "external_references.",
    "2026-01-01T00:00:00.",
]
TAIL = ["", "'", "' AND", "!", "]", "\x01", "Z!", "'] X"]


@st.composite
def adversarial(draw: st.DrawFn) -> str:
    unit = "".join(draw(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=3)))
    return draw(st.sampled_from(HEAD)) + unit * draw(st.integers(1_000, 6_000)) + draw(st.sampled_from(TAIL))


def _elapsed(call: object, *args: object) -> float:
    start = time.perf_counter()
    call(*args)  # type: ignore[operator]
    return time.perf_counter() - start


@settings(max_examples=60, deadline=None)
@given(adversarial())
def test_no_expression_applied_to_peer_data_backtracks(text: str) -> None:
    slow = {
        name: seconds
        for name, (expression, how) in PEER_EXPRESSIONS.items()
        if (seconds := _elapsed(getattr(expression, how), text)) > 0.5
    }
    assert slow == {}


@settings(max_examples=30, deadline=None)
@given(adversarial())
def test_the_pattern_fast_path_and_the_validator_answer_at_once(text: str) -> None:
    pattern = text if text.startswith("[") else f"[file:name = '{text}']"
    assert _elapsed(simple_pattern, pattern) < 0.5
    indicator = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2026-02-01T10:00:00.000Z",
        "modified": "2026-02-01T10:00:00.000Z",
        "pattern": pattern[:2_000],
        "pattern_type": "stix",
        "valid_from": "2026-02-01T10:00:00Z",
        "name": text,
    }
    assert _elapsed(check_object, indicator) < 5.0


def test_the_hash_and_name_indicator_that_used_to_hang_is_valid_and_quick() -> None:
    pattern = "[file:hashes.'SHA-256' = '" + "0123456789abcdef" * 4 + "' AND file:name = 'a.exe']"
    assert simple_pattern(pattern) is None
    assert _elapsed(pattern_errors, pattern) < 5.0
    assert pattern_errors(pattern) == ""
