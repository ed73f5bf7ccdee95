"""Quick-form patterns: whatever an analyst pastes is quoted so the pattern means exactly it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stix2patterns.v21.pattern import Pattern

from cirt.errors import InvalidValue
from cirt.patterns import email_pattern, pattern_error, quote, url_pattern
from cirt.stixtime import format_ts, parse_ts


def _literal_value(pattern: str) -> str:
    """The string the OASIS parser reads from the pattern's only comparison."""
    (comparisons,) = Pattern(pattern).inspect().comparisons.values()
    literal = comparisons[0][2]
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(text)
def test_any_text_quoted_reads_back_unchanged(value: str) -> None:
    pattern = f"[url:value = {quote(value)}]"
    assert pattern_error(pattern) is None
    assert _literal_value(pattern) == value


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=30))
def test_urls_with_quotes_and_backslashes_stay_one_literal(path: str) -> None:
    url = f"https://evil.example/{path}"
    if any(c.isspace() for c in url):
        with pytest.raises(InvalidValue):
            url_pattern(url)
        return
    assert _literal_value(url_pattern(url)) == url


@pytest.mark.parametrize("bad", ["", "no-at-sign", "a@b", "two@@x.example"])
def test_malformed_email_addresses_are_refused(bad: str) -> None:
    with pytest.raises(InvalidValue):
        email_pattern(bad)


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)))
def test_stix_timestamps_round_trip_at_millisecond_precision(moment: datetime) -> None:
    text = format_ts(moment)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)
    assert parse_ts(text) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@pytest.mark.parametrize(
    "text", ["2023-04-07T20:00:00.0002Z", "2023-04-07T20:00:00Z", "2023-04-07T20:00:00.123456789Z"]
)
def test_any_number_of_fractional_digits_is_accepted(text: str) -> None:
    assert parse_ts(text).year == 2023


@pytest.mark.parametrize(
    "text",
    ["2023-04-07 20:00:00Z", "2023-04-07T20:00:00+01:00", "2023-13-07T20:00:00Z", "2023-04-07T20:00:00.x1Z"],
)
def test_malformed_timestamps_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ts(text)
