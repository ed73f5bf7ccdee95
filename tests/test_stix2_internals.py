"""The stix2 internals the fast validator is generated from are still there and mean the same.

``cirt.stix_validation`` compiles its checks from stix2's own class registry and property objects,
which are not public API.  pyproject.toml pins stix2 to the tested range; when that range is
widened, this file says exactly which internal moved instead of letting validation drift.
"""

from __future__ import annotations

from typing import Any

import pytest
import stix2
from stix2 import properties as p
from stix2.base import _DomainObject, _RelationshipObject
from stix2.registry import STIX2_OBJ_MAPS
from stix2patterns.v21.object_validator import HASHES_REGEX

from cirt.stix_validation import schemas


def _property(stix_type: str, name: str, group: str = "objects") -> Any:
    return STIX2_OBJ_MAPS["2.1"][group][stix_type]._properties[name]


def test_the_registry_maps_every_21_type_to_a_class_with_its_properties() -> None:
    maps = STIX2_OBJ_MAPS["2.1"]
    assert {"objects", "observables"} <= set(maps)
    assert maps["objects"]["indicator"] is stix2.v21.Indicator
    assert maps["observables"]["file"] is stix2.v21.File
    assert issubclass(maps["objects"]["indicator"], _DomainObject)
    assert issubclass(maps["objects"]["relationship"], _RelationshipObject)
    assert "pattern" in maps["objects"]["indicator"]._properties


@pytest.mark.parametrize(
    ("kind", "group", "stix_type", "name", "attribute", "expected"),
    [
        (p.TypeProperty, "objects", "indicator", "type", "_fixed_value", "indicator"),
        (p.IDProperty, "objects", "indicator", "id", "required_prefix", "indicator--"),
        (p.StringProperty, "objects", "indicator", "spec_version", "_fixed_value", "2.1"),
        (p.EnumProperty, "objects", "opinion", "opinion", "allowed", None),
        (p.OpenVocabProperty, "objects", "grouping", "context", None, None),
        (p.IntegerProperty, "objects", "indicator", "confidence", "max", None),
        (p.FloatProperty, "objects", "location", "latitude", "min", -90.0),
        (p.TimestampProperty, "objects", "indicator", "valid_from", None, None),
        (p.ReferenceProperty, "objects", "indicator", "created_by_ref", None, None),
        (p.PatternProperty, "objects", "indicator", "pattern", None, None),
        (p.BooleanProperty, "objects", "indicator", "revoked", None, None),
        (p.ListProperty, "objects", "report", "object_refs", "contained", None),
        (p.ExtensionsProperty, "objects", "indicator", "extensions", None, None),
        (p.DictionaryProperty, "objects", "language-content", "contents", None, None),
        (p.HashesProperty, "observables", "file", "hashes", None, None),
        (p.HexProperty, "observables", "file", "magic_number_hex", None, None),
        (p.EmbeddedObjectProperty, "observables", "x509-certificate", "x509_v3_extensions", "type", None),
    ],
)
def test_each_property_kind_keeps_the_shape_the_validator_reads(
    kind: type[Any], group: str, stix_type: str, name: str, attribute: str | None, expected: Any
) -> None:
    prop = _property(stix_type, name, group)
    assert type(prop) is kind, f"stix2 internals changed: {stix_type}.{name} is {type(prop)}"
    assert isinstance(prop.required, bool)
    if attribute is not None:
        assert hasattr(prop, attribute), f"stix2 internals changed: {kind.__name__}.{attribute}"
        if expected is not None:
            assert getattr(prop, attribute) == expected


def test_lists_name_what_they_contain_property_or_embedded_class() -> None:
    assert type(_property("report", "object_refs").contained) is p.ReferenceProperty
    assert _property("indicator", "kill_chain_phases").contained is stix2.v21.KillChainPhase
    assert "kill_chain_name" in stix2.v21.KillChainPhase._properties
    assert HASHES_REGEX["SHA256"][1] == "SHA-256" and isinstance(HASHES_REGEX["SHA256"][0], str)


def test_the_validator_compiles_a_checker_for_every_registered_type() -> None:
    compiled = schemas(False)
    registered = set(STIX2_OBJ_MAPS["2.1"]["objects"]) | set(STIX2_OBJ_MAPS["2.1"]["observables"])
    assert registered - {"bundle"} <= compiled.known
