"""The core decides without I/O: importing the gate loads no store, workspace or adapter.

Checked in a fresh interpreter, so what other tests imported does not hide a dependency."""

from __future__ import annotations

import json
import subprocess
import sys

ADAPTERS = ("cirt.store", "cirt.workspace", "cirt.taxii", "cirt.misp", "cirt.bulletin",
            "cirt.openpgp", "cirt.config", "cirt.intake", "cirt.cli", "cirt.sharing")


def loaded_by(module: str) -> list[str]:
    code = (f"import json, sys, {module}; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cirt'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    found: list[str] = json.loads(done.stdout)
    return found


def test_importing_the_gate_loads_no_store_workspace_or_adapter() -> None:
    loaded = loaded_by("cirt.gate")
    assert "cirt.gate" in loaded
    assert [m for m in loaded if m.startswith(ADAPTERS)] == []


def test_the_tlp_core_and_the_reference_walker_load_nothing_else_of_cirt() -> None:
    assert set(loaded_by("cirt.tlp")) <= {"cirt", "cirt.tlp", "cirt.errors"}
    assert set(loaded_by("cirt.stix_refs")) == {"cirt", "cirt.stix_refs"}
