"""What a TAXII client puts in a query string is peer input: it parses into validated filters or
is refused with a TAXII 400, never anything else; paging tokens are ours and round-trip."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cirt.stixtime import format_ts_micro
from cirt.taxii.query import LIST_FILTERS, Query, TaxiiError, decode_next, encode_next, parse_query

MAX_PAGE = 1000
moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)
)


@given(st.text(max_size=300))
def test_any_query_string_parses_or_is_a_taxii_400(text: str) -> None:
    try:
        query = parse_query(text, LIST_FILTERS, MAX_PAGE)
    except TaxiiError as exc:
        assert exc.status == 400 and exc.description
    else:
        assert 1 <= query.limit <= MAX_PAGE


@given(
    st.lists(st.tuples(st.sampled_from([*LIST_FILTERS, "match[foo]", "x"]), st.text(max_size=60)), max_size=8)
)
def test_any_combination_of_filters_parses_or_is_a_taxii_400(pairs: list[tuple[str, str]]) -> None:
    try:
        parse_query(urlencode(pairs), LIST_FILTERS, MAX_PAGE)
    except TaxiiError as exc:
        assert exc.status == 400
    else:
        assert all(name in LIST_FILTERS for name, _ in pairs)
        assert len({name for name, _ in pairs}) == len(pairs)  # each filter once


@given(moments)
def test_a_next_token_decodes_to_the_date_added_it_was_made_of(moment: datetime) -> None:
    added = format_ts_micro(moment)
    token = encode_next(added)
    assert decode_next(token) == added
    assert parse_query(f"next={token}", LIST_FILTERS, MAX_PAGE).after == added


@given(st.text(max_size=80))
def test_a_token_we_did_not_issue_is_refused_or_names_a_moment(token: str) -> None:
    try:
        decoded = decode_next(token)
    except TaxiiError as exc:
        assert exc.status == 400
    else:
        assert decoded.endswith("Z") and len(decoded) == len("2026-03-10T14:00:00.000000Z")


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("", Query()),
        ("limit=5000", Query(limit=MAX_PAGE)),
        ("limit=7&match[type]=indicator,malware", Query(limit=7, types=("indicator", "malware"))),
        ("match[version]=first,2026-03-10T14:00:00Z", Query(versions=("first", "2026-03-10T14:00:00Z"))),
        ("added_after=2026-03-10T14:00:00Z", Query(added_after="2026-03-10T14:00:00.000000Z")),
    ],
)
def test_filters_as_the_specification_spells_them(text: str, query: Query) -> None:
    assert parse_query(text, LIST_FILTERS, MAX_PAGE) == query


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("limit=0", "limit must be a positive integer"),
        ("limit=1&limit=2", "query parameter 'limit' given more than once"),
        ("match[type]=", "match[type] has an empty value"),
        ("match[id]=indicator--nope", "match[id]: 'indicator--nope' is not valid"),
        ("match[spec_version]=2", "match[spec_version]: '2' is not valid"),
        ("sort=asc", "unsupported query parameter 'sort'"),
    ],
)
def test_each_refusal_says_which_filter_is_wrong(text: str, description: str) -> None:
    with pytest.raises(TaxiiError) as refused:
        parse_query(text, LIST_FILTERS, MAX_PAGE)
    assert (refused.value.status, refused.value.description) == (400, description)
