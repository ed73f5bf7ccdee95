"""The TLP 2.0 core, as FIRST and OASIS define it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cirt.errors import InvalidValue
from cirt.tlp import (
    TLP,
    TLP1_MARKING_IDS,
    TLP2_EXTENSION_DEFINITION,
    effective_level,
    level_of_marking,
    marking_definition,
    marking_definitions_for,
)
from tests.conftest import REFERENCE

TLP2_DIR = REFERENCE / "stix-common-objects" / "tlp-2.0"


def test_the_five_levels_are_ordered_from_clear_to_red() -> None:
    assert sorted(TLP) == [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED]
    assert TLP.AMBER < TLP.AMBER_STRICT < TLP.RED


@pytest.mark.parametrize("level", list(TLP))
def test_marking_definitions_equal_the_oasis_objects(level: TLP) -> None:
    name = level.slug.replace("+", "-")
    (path,) = TLP2_DIR.glob(f"marking-definition--*.tlp-{name}.json")
    published = json.loads(path.read_text())["objects"][0]
    assert marking_definition(level) == published
    assert level.marking_id == published["id"]


def test_the_tlp2_extension_definition_equals_the_oasis_object() -> None:
    path = TLP2_DIR / "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d.json"
    assert json.loads(path.read_text())["objects"][0] == TLP2_EXTENSION_DEFINITION


def test_tlp1_ids_are_accepted_and_white_is_clear() -> None:
    assert level_of_marking("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9") is TLP.CLEAR
    assert set(TLP1_MARKING_IDS.values()) == {TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.RED}
    assert TLP.parse("white") is TLP.CLEAR


@pytest.mark.parametrize(
    "text,level",
    [
        ("amber+strict", TLP.AMBER_STRICT),
        ("TLP:AMBER+STRICT", TLP.AMBER_STRICT),
        ("Red", TLP.RED),
        ("tlp:clear", TLP.CLEAR),
    ],
)
def test_labels_are_read_as_people_type_them(text: str, level: TLP) -> None:
    assert TLP.parse(text) is level


def test_an_unknown_label_is_refused_with_the_valid_ones_named() -> None:
    with pytest.raises(InvalidValue, match=r"'purple' is not a TLP label.*amber\+strict"):
        TLP.parse("purple")


@given(st.lists(st.sampled_from(list(TLP)), min_size=1))
def test_several_markings_the_most_restrictive_holds(levels: list[TLP]) -> None:
    assert effective_level([lvl.marking_id for lvl in levels], TLP.CLEAR) == max(levels)


def test_no_tlp_marking_means_the_default() -> None:
    assert effective_level([], TLP.AMBER) is TLP.AMBER
    assert (
        effective_level(["marking-definition--00000000-0000-4000-8000-000000000000"], TLP.AMBER) is TLP.AMBER
    )


def test_bundles_carry_the_definitions_they_reference() -> None:
    objs: list[dict[str, Any]] = [
        {"id": "indicator--1", "object_marking_refs": [TLP.GREEN.marking_id]},
        {
            "id": "note--1",
            "granular_markings": [{"marking_ref": TLP.RED.marking_id, "selectors": ["content"]}],
        },
    ]
    ids = [d["id"] for d in marking_definitions_for(objs)]
    assert ids == [TLP2_EXTENSION_DEFINITION["id"], TLP.GREEN.marking_id, TLP.RED.marking_id]


def test_tlp1_markings_received_from_peers_travel_with_their_predefined_definitions() -> None:
    from stix2validator import ValidationOptions, validate_instance

    white = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
    indicator = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '192.0.2.1']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z",
        "object_marking_refs": [white],
    }
    definitions = marking_definitions_for([indicator])
    assert [d["id"] for d in definitions] == [white]
    assert definitions[0]["definition"] == {"tlp": "white"}
    bundle = {
        "type": "bundle",
        "id": "bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3e",
        "objects": [*definitions, indicator],
    }
    assert validate_instance(bundle, ValidationOptions(version="2.1")).is_valid
