"""The exchange's mappings are core and its transports adapters: importing them loads no store,
workspace, context or service, and no adapter a mapping does not need.

Checked in a fresh interpreter, so what other tests imported does not hide a dependency."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SERVICES = (
    "cirt.workspace",
    "cirt.context",
    "cirt.sharing",
    "cirt.ingest",
    "cirt.gate",  # core, but it decides what leaves; the mappings translate what it let go
    "cirt.misp_exchange",
    "cirt.taxii.client",
    "cirt.taxii.release",
    "cirt.taxii.collections",
    "cirt.servers",
    "cirt.cli",
)
ADAPTERS = (
    "cirt.store",
    "cirt.config",
    "cirt.sectors_file",
    "cirt.untrusted_json",
    "cirt.bounded_http",
    "cirt.misp.feed",
    "cirt.misp.connection",
    "cirt.taxii.auth",
)


def loaded_by(module: str) -> list[str]:
    code = (
        f"import json, sys, {module}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cirt'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found: list[str] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize(
    "core", ["cirt.misp.to_misp", "cirt.misp.to_stix", "cirt.taxii.query", "cirt.plain", "cirt.misp_tlp"]
)
def test_the_mappings_and_the_query_parser_load_no_adapter_or_service(core: str) -> None:
    loaded = loaded_by(core)
    assert core in loaded
    assert [m for m in loaded if m.startswith(SERVICES + ADAPTERS)] == []


@pytest.mark.parametrize(
    ("adapter", "allowed"),
    [
        ("cirt.misp.feed", ("cirt.untrusted_json", "cirt.misp.feed")),
        ("cirt.misp.connection", ("cirt.untrusted_json", "cirt.bounded_http", "cirt.misp.connection")),
        ("cirt.bounded_http", ("cirt.bounded_http",)),
    ],
)
def test_the_transports_load_no_service_and_no_store(adapter: str, allowed: tuple[str, ...]) -> None:
    loaded = loaded_by(adapter)
    assert [m for m in loaded if m.startswith(SERVICES + ADAPTERS) and m not in allowed] == []
