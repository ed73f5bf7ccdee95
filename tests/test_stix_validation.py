"""The fast validator: at least as strict as stix2.parse, and the pattern fast path is exact."""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import stix2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator

from cirt.stix_validation import (
    check_object,
    pattern_errors,
    simple_pattern,
    validate_objects,
)
from tests.conftest import REFERENCE

EXAMPLES = sorted((REFERENCE / "stix-examples").glob("*.json"))


def example_objects() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in EXAMPLES:
        out.extend(json.loads(path.read_text())["objects"])
    return out


def stix2_rejects(obj: Any) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stix2.parse(copy.deepcopy(obj), allow_custom=False, version="2.1")
    except Exception:
        return True
    return False


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_object_is_valid_for_both(path: Path) -> None:
    for obj in json.loads(path.read_text())["objects"]:
        assert check_object(obj) == "", obj["id"]
        assert not stix2_rejects(obj), obj["id"]


SEEDS = [
    o
    for o in example_objects()
    if o["type"]
    in (
        "indicator",
        "malware",
        "relationship",
        "sighting",
        "identity",
        "report",
        "campaign",
        "threat-actor",
        "attack-pattern",
        "observed-data",
        "infrastructure",
        "tool",
        "intrusion-set",
        "course-of-action",
        "location",
        "marking-definition",
        "vulnerability",
    )
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 2000)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "2026-01-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "indicator--1234",
            "identity--e33b703c-a631-5672-a1bc-d5c26b3e3afa",
            "[ipv4-addr:value = '1.2.3.4']",
            "[file:hashes.MD5 = 'zz']",
            "stix",
            "malicious-activity",
            "2.0",
            "2.1",
            "x-custom",
        ]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def mutated_objects(draw: st.DrawFn) -> dict[str, Any]:
    obj = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        keys = sorted(obj)
        action = draw(st.sampled_from(["drop", "set", "add"]))
        if action == "drop" and keys:
            obj.pop(draw(st.sampled_from(keys)))
        elif action == "set" and keys:
            obj[draw(st.sampled_from(keys))] = draw(json_values)
        else:
            obj[
                draw(
                    st.sampled_from(
                        [
                            "x_custom",
                            "labels",
                            "revoked",
                            "confidence",
                            "valid_until",
                            "created_by_ref",
                            "lang",
                            "object_marking_refs",
                            "external_references",
                        ]
                    )
                )
            ] = draw(json_values)
    return obj


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_objects())
def test_whatever_stix2_parse_rejects_is_rejected(obj: dict[str, Any]) -> None:
    if stix2_rejects(obj):
        assert check_object(obj) != ""


# --- the pattern fast path ---

idents = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
types = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,5}){0,2}", fullmatch=True)
values = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)


@st.composite
def near_simple_patterns(draw: st.DrawFn) -> str:
    path = [
        draw(idents | st.sampled_from(["true", "false", "hashes", "MD5", "'SHA-256'"]))
        for _ in range(draw(st.integers(1, 3)))
    ]
    value = draw(values | st.sampled_from(["d41d8cd98f00b204e9800998ecf8427e", "x'y", "a\\b"]))
    escaped = value.replace("\\", "\\\\").replace("'", "\\'") if draw(st.booleans()) else value
    space = draw(st.sampled_from(["", " ", "  "]))
    # Compound tails: the fast path must step aside (they once made it backtrack exponentially).
    tail = draw(
        st.sampled_from(
            [
                "",
                "",
                " AND file:name = 'a.exe'",
                "' AND x:y = '1",
                " OR [url:value = 'x']",
                "'] AND [url:value = 'x",
            ]
        )
    )
    return f"[{draw(types)}:{'.'.join(path)}{space}={space}'{escaped}{tail}']"


@settings(max_examples=600, deadline=None)
@given(near_simple_patterns())
def test_fast_path_agrees_with_stix2_patterns(pattern: str) -> None:
    full = run_validator(pattern, "2.1")
    if simple_pattern(pattern) is not None:
        assert (pattern_errors(pattern) == "") == (not full), pattern


def test_fast_path_covers_the_common_forms() -> None:
    for pattern in (
        "[ipv4-addr:value = '198.51.100.7']",
        "[domain-name:value = 'evil.example']",
        "[url:value = 'http://x.example/a?b=c']",
        "[file:hashes.'SHA-256' = '" + "a" * 64 + "']",
    ):
        assert simple_pattern(pattern) is not None
        assert pattern_errors(pattern) == ""
    assert simple_pattern("[ipv4-addr:value = '1.2.3.4'] AND [url:value = 'x']") is None
    assert "not a valid MD5 hash" in pattern_errors("[file:hashes.MD5 = 'nothex']")


# --- bundle-level rules ---

IND = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    "created": "2026-02-01T10:00:00.000Z",
    "modified": "2026-02-01T10:00:00.000Z",
    "pattern": "[ipv4-addr:value = '198.51.100.7']",
    "pattern_type": "stix",
    "valid_from": "2026-02-01T10:00:00Z",
}


def test_modified_before_created_is_refused_though_stix2_accepts_it() -> None:
    obj = {**IND, "modified": "2026-01-01T00:00:00.000Z"}
    assert not stix2_rejects(obj)
    assert "earlier than created" in check_object(obj)


def test_a_rejected_object_does_not_take_its_referrers_along() -> None:
    """STIX 2.1 §8: a bundle has no meaning of its own, so a reference to an object that is
    not there (rejected, or never sent) is kept as it is, as stix2 and the OASIS validator do."""
    bad = {**IND, "pattern": "[broken"}
    rel = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": "relationship--6f9a5c1e-7a39-4f5b-9d5e-1b2f37c2d0a1",
        "created": "2026-02-01T10:00:00.000Z",
        "modified": "2026-02-01T10:00:00.000Z",
        "relationship_type": "related-to",
        "source_ref": IND["id"],
        "target_ref": "identity--e33b703c-a631-5672-a1bc-d5c26b3e3afa",
    }
    result = validate_objects([bad, rel])
    assert [o["id"] for _, o in result.accepted] == [rel["id"]]
    assert [r.id for r in result.rejected] == [IND["id"]]


def test_an_unknown_marking_definition_is_refused() -> None:
    marked = {**IND, "object_marking_refs": ["marking-definition--1d3f2c0a-4b5e-4f6a-8b7c-9d0e1f2a3b4c"]}
    result = validate_objects([marked])
    assert not result.accepted
    assert "unknown marking definition" in result.rejected[0].reason
    assert validate_objects([marked], known_ids=lambda ids: ids).accepted


def test_one_instant_is_one_version_and_the_first_content_is_kept() -> None:
    spelled = {**IND, "modified": "2026-02-01T10:00:00Z"}
    other = {**IND, "modified": "2026-02-01T10:00:00.000000Z", "name": "other"}
    result = validate_objects([IND, spelled, other])
    assert [i for i, _ in result.accepted] == [0]
    assert result.duplicates_in_input == 1
    assert [r.index for r in result.rejected] == [2]
    assert "first is kept" in result.rejected[0].reason


def test_identical_repeats_are_duplicates_not_conflicts() -> None:
    result = validate_objects([IND, dict(IND)])
    assert len(result.accepted) == 1 and result.duplicates_in_input == 1


def test_custom_content_is_kept_only_when_allowed_and_never_changed() -> None:
    obj = {**IND, "x_acme_score": 7}
    assert "custom property" in check_object(obj)
    assert check_object(obj, allow_custom=True) == ""
    assert obj["x_acme_score"] == 7


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_objects())
def test_the_shape_fast_path_never_accepts_what_the_general_path_refuses(obj: dict[str, Any]) -> None:
    from cirt.stix_validation import EXTENSION_OBJECT_TYPES, Invalid, _check_object, _shape_checker

    fast = _shape_checker(obj, False, EXTENSION_OBJECT_TYPES)
    if fast is not None and fast(copy.deepcopy(obj)):
        try:
            _check_object(obj, False, EXTENSION_OBJECT_TYPES)
        except Invalid as exc:
            pytest.fail(f"fast path accepted what the general path refuses: {exc}")


# An ATT&CK technique's shape: external references, kill-chain phases, custom x_mitre_ text.
ATTACK_PATTERN = {
    "type": "attack-pattern",
    "spec_version": "2.1",
    "id": "attack-pattern--0a3ead4e-6d47-4ccb-854c-a6a4f9d96b22",
    "created": "2020-02-11T18:23:26.059Z",
    "modified": "2023-03-30T21:01:47.762Z",
    "name": "Credentials from Password Stores",
    "description": "Adversaries may search…",
    "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "credential-access"}],
    "external_references": [
        {
            "source_name": "mitre-attack",
            "external_id": "T1555",
            "url": "https://attack.mitre.org/techniques/T1555",
        },
        {"source_name": "Malwarebytes", "description": "A blog post", "url": "https://example.org/"},
    ],
    "x_mitre_platforms": ["Linux", "macOS", "Windows"],
    "x_mitre_version": "1.1",
    "x_mitre_is_subtechnique": False,
}
embedded_values = st.one_of(
    json_values,
    st.sampled_from(["", "ok", "bad\x01", "mitre-attack"]),
    st.dictionaries(
        st.sampled_from(
            [
                "source_name",
                "description",
                "url",
                "external_id",
                "hashes",
                "x_custom",
                "kill_chain_name",
                "phase_name",
            ]
        ),
        st.one_of(st.sampled_from(["text", "bad\x07", ""]), json_values),
        max_size=4,
    ),
)


@st.composite
def mutated_techniques(draw: st.DrawFn) -> dict[str, Any]:
    obj = copy.deepcopy(ATTACK_PATTERN)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(
            st.sampled_from(
                [
                    "external_references",
                    "kill_chain_phases",
                    "x_mitre_platforms",
                    "x_mitre_version",
                    "x_mitre_extra",
                ]
            )
        )
        entries = obj.get(key)
        if isinstance(entries, list) and entries and draw(st.booleans()):
            index = draw(st.integers(0, len(entries) - 1))
            entry = entries[index]
            action = draw(st.sampled_from(["drop", "set", "replace"]))
            if action == "drop" and isinstance(entry, dict) and entry:
                entry.pop(draw(st.sampled_from(sorted(entry))))
            elif action == "set" and isinstance(entry, dict):
                entry[
                    draw(
                        st.sampled_from(
                            [
                                "source_name",
                                "description",
                                "url",
                                "external_id",
                                "hashes",
                                "x_custom",
                                "phase_name",
                            ]
                        )
                    )
                ] = draw(embedded_values)
            else:
                entries[index] = draw(embedded_values)
        else:
            obj[key] = draw(st.one_of(embedded_values, st.lists(embedded_values, max_size=3)))
    return obj


def test_the_attack_pattern_shape_takes_the_fast_path() -> None:
    from cirt.stix_validation import EXTENSION_OBJECT_TYPES, _shape_checker

    fast = _shape_checker(ATTACK_PATTERN, True, EXTENSION_OBJECT_TYPES)
    assert fast is not None and fast(copy.deepcopy(ATTACK_PATTERN))
    assert check_object(ATTACK_PATTERN, allow_custom=True) == ""


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_techniques())
def test_the_fast_paths_for_references_phases_and_custom_text_accept_nothing_more(
    obj: dict[str, Any],
) -> None:
    """External references, kill-chain phases and custom text checked inline agree with the
    general path: whatever the fast path accepts, the general path accepts too."""
    from cirt.stix_validation import EXTENSION_OBJECT_TYPES, Invalid, _check_object, _shape_checker

    fast = _shape_checker(obj, True, EXTENSION_OBJECT_TYPES)
    if fast is not None and fast(copy.deepcopy(obj)):
        try:
            _check_object(obj, True, EXTENSION_OBJECT_TYPES)
        except Invalid as exc:
            pytest.fail(f"fast path accepted what the general path refuses: {exc}")
