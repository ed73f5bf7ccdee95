"""The one reference walker finds every ``*_ref`` and ``*_refs`` at any depth."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cirt.stix_refs import content_references, marking_references, walk_references

TARGETS = st.uuids().map(lambda u: {"x_target_ref": f"target--{u}"})
PLAIN_KEYS = st.sampled_from(["name", "x_data", "hashes", "extensions", "kill_chain_phases", "values"])
DOCUMENTS = st.recursive(
    st.one_of(st.text(max_size=5), st.integers(), TARGETS),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(PLAIN_KEYS, inner, max_size=3)),
    max_leaves=12,
)


@given(DOCUMENTS)
def test_every_planted_reference_is_found_at_any_depth(deep: Any) -> None:
    document = {"type": "x-thing", "id": "x-thing--1", "deep": deep}
    planted = re.findall(r"target--[0-9a-f-]{36}", json.dumps(document))
    assert sorted(content_references(document)) == sorted(planted)


def test_references_in_extensions_kill_chains_external_references_and_lists() -> None:
    obj = {
        "type": "indicator",
        "created_by_ref": "identity--a",
        "object_marking_refs": ["marking-definition--m1"],
        "granular_markings": [{"marking_ref": "marking-definition--m2", "selectors": ["name"]}],
        "kill_chain_phases": [{"kill_chain_name": "k", "phase_name": "p", "x_actor_ref": "threat-actor--k"}],
        "external_references": [{"source_name": "s", "x_report_refs": ["report--e"]}],
        "extensions": {
            "extension-definition--1": {
                "extension_type": "property-extension",
                "victim_refs": ["identity--v1", "identity--v2"],
                "nested": [[{"owner_ref": "identity--o"}]],
            }
        },
        "x_custom_ref": "malware--c",
    }
    assert content_references(obj) == [
        "threat-actor--k",
        "report--e",
        "identity--v1",
        "identity--v2",
        "identity--o",
        "malware--c",
    ]
    assert marking_references(obj) == ["marking-definition--m1", "marking-definition--m2"]
    paths = dict((ref, path) for path, ref in walk_references(obj))
    assert paths["identity--v2"] == ("extensions", "extension-definition--1", "victim_refs", 1)


def test_values_of_the_wrong_shape_are_not_references() -> None:
    assert content_references({"a_ref": 3, "b_refs": "identity--x", "c_refs": [None, 1]}) == []
