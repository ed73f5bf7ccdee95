"""Rejection classes found on public real data where cirt was stricter than STIX 2.1 and the OASIS
validator (issue 10, "Real data, whole").  Each test holds a minimal excerpt of the shape that was
refused; the source file is named in its docstring (the corpus itself stays out of the repository).
"""

from __future__ import annotations

from typing import Any

from cirt.ingest import classify

IDENTITY: dict[str, Any] = {
    "type": "identity", "spec_version": "2.1",
    "id": "identity--360f3368-b911-4bb1-a7f9-0a8e4ef4e023",
    "created": "2020-02-23T23:40:53.575Z", "modified": "2020-02-23T23:40:53.575Z",
    "name": "Information Technologies Consulting", "identity_class": "class"}


def test_a_bundle_carrying_spec_version_2_1_is_read_as_stix_2_1() -> None:
    """OpenCTI's bundle splitter writes ``spec_version: "2.1"`` and ``x_opencti_seq`` on every
    bundle it emits (OpenCTI-Platform/client-python tests/data/mono-bundle-entity.json).  A 2.1
    bundle has no spec_version (STIX 2.1 §8), so the property is custom: the OASIS validator only
    warns about it ({401}); it says nothing about the objects, which are STIX 2.1."""
    bundle = {"id": "bundle--1f126d0c-356c-43af-88f8-7a3b695dee83", "objects": [IDENTITY],
              "spec_version": "2.1", "type": "bundle", "x_opencti_seq": 1}
    incoming = classify(bundle, "mono-bundle-entity.json")
    assert incoming.kind == "stix-2.1"
    assert incoming.objects == [IDENTITY] and incoming.refused == {}
