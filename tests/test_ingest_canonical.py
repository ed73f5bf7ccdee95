"""What ingest stores is exactly the store's canonical JSON, through its faster encoder."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cirt.ingest import canonical_text
from cirt.store import canonical_json

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(obj=st.dictionaries(st.text(), _JSON, max_size=6))
def test_canonical_text_is_canonical_json(obj: dict[str, Any]) -> None:
    assert canonical_text(obj) == canonical_json(obj)


def test_non_ascii_quotes_and_controls_are_encoded_like_the_store() -> None:
    obj = {"name": 'Zoë "quoted" \\ \n\t\u2028 \U0001f600', "b": [1.5, -0.0, 10**20], "a": {}}
    assert canonical_text(obj) == canonical_json(obj)
    assert canonical_text(obj).startswith('{"a":{},"b":[1.5,-0.0,100000000000000000000]')
