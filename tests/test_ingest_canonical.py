"""The store's canonical JSON (through the C encoder built once) is exactly ``json.dumps`` with
sorted keys, compact separators and UTF-8 text."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cirt.store import canonical_json

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(obj=st.dictionaries(st.text(), _JSON, max_size=6))
def test_canonical_json_is_json_dumps_sorted_and_compact(obj: dict[str, Any]) -> None:
    assert canonical_json(obj) == _dumps(obj)


def test_non_ascii_quotes_and_controls_are_encoded_like_json_dumps() -> None:
    obj = {"name": 'Zoë "quoted" \\ \n\t\u2028 \U0001f600', "b": [1.5, -0.0, 10**20], "a": {}}
    assert canonical_json(obj) == _dumps(obj)
    assert canonical_json(obj).startswith('{"a":{},"b":[1.5,-0.0,100000000000000000000]')


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
