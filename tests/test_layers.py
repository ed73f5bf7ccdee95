"""The core decides without I/O: importing the gate loads no store, workspace or adapter.

Checked in a fresh interpreter, so what other tests imported does not hide a dependency."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

ADAPTERS = (
    "cirt.store",
    "cirt.workspace",
    "cirt.taxii",
    "cirt.misp",
    "cirt.bulletin",
    "cirt.openpgp",
    "cirt.config",
    "cirt.intake",
    "cirt.cli",
    "cirt.sharing",
)


def loaded_by(module: str) -> list[str]:
    code = (
        f"import json, sys, {module}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cirt'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found: list[str] = json.loads(done.stdout)
    return found


def test_importing_the_gate_loads_no_store_workspace_or_adapter() -> None:
    loaded = loaded_by("cirt.gate")
    assert "cirt.gate" in loaded
    assert [m for m in loaded if m.startswith(ADAPTERS)] == []


def test_the_tlp_core_and_the_reference_walker_load_nothing_else_of_cirt() -> None:
    assert set(loaded_by("cirt.tlp")) <= {"cirt", "cirt.tlp", "cirt.errors"}
    assert set(loaded_by("cirt.stix_refs")) == {"cirt", "cirt.stix_refs"}


def _layer_entries() -> list[list[str]]:
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    contract = next(c for c in pyproject["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    return [[m.strip() for m in layer.replace("|", ":").split(":")] for layer in contract["layers"]]


def _split_package_without_code(info: Any) -> bool:
    """A package whose modules sit in different layers is listed module by module; its
    ``__init__`` then must import nothing of cirt (it would belong to no layer)."""
    if not info.ispkg:
        return False
    from pathlib import Path

    init = Path(info.module_finder.path) / info.name.rsplit(".", 1)[-1] / "__init__.py"
    text = init.read_text(encoding="utf-8")
    return "from cirt" not in text and "import cirt" not in text and "from ." not in text


def test_every_module_of_cirt_sits_in_exactly_one_layer_of_the_contract() -> None:
    """A module missing from the layers contract would escape lint-imports unnoticed."""
    import pkgutil

    import cirt

    modules = [
        info.name
        for info in pkgutil.walk_packages(cirt.__path__, "cirt.")
        if ".migrations." not in info.name and not _split_package_without_code(info)
    ]
    layers = _layer_entries()

    def homes(module: str) -> list[int]:
        return [
            i
            for i, layer in enumerate(layers)
            if any(module == entry or module.startswith(entry + ".") for entry in layer)
        ]

    assert {m: homes(m) for m in modules if len(homes(m)) != 1} == {}
