"""Every import inside a function of ``cirt``, and what start-up would pay if it were at the top.

Run on demand:  python benchmarks/deferred_imports.py [--runs 3]

Imports belong at the top of a module; one inside a function is allowed only where start-up time
needs it (issue 15).  For each such import this lists where it is and, measured in a fresh
interpreter per run, how long importing its target takes once the module holding it is loaded:
what every command that loads that module would pay if the import moved to the top.  Type-only
imports (``if TYPE_CHECKING``) are not imports at run time and are not listed.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cirt"

MEASURE = """
import importlib, json, sys, time
importlib.import_module({holder!r})
started = time.perf_counter()
importlib.import_module({target!r})
print(json.dumps(time.perf_counter() - started))
"""


@dataclass(frozen=True)
class Deferred:
    holder: str  # the module the import sits in
    line: int
    target: str  # the module it imports


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, holder: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = holder.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _submodule(package: str, name: str) -> str:
    """``from package import name`` imports the module ``package.name`` when there is one."""
    try:
        found = importlib.util.find_spec(f"{package}.{name}")
    except (ImportError, ValueError):
        found = None
    return f"{package}.{name}" if found is not None else package


def deferred_imports() -> list[Deferred]:
    found: list[Deferred] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        holder = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    found += [Deferred(holder, node.lineno, a.name) for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    target = _resolve(node, holder, path.name == "__init__.py")
                    found += [Deferred(holder, node.lineno, _submodule(target, a.name)) for a in node.names]
    return sorted(set(found), key=lambda d: (d.holder, d.line, d.target))


def cost(item: Deferred, runs: int) -> float | None:
    """Seconds to import ``item.target`` after ``item.holder``: median of fresh interpreters."""
    times = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", MEASURE.format(holder=item.holder, target=item.target)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            return None
        times.append(json.loads(done.stdout))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    items = deferred_imports()
    print(f"{len(items)} imports inside functions in cirt/")
    print(f"{'where':<44} {'imports':<36} {'ms if at the top':>16}")
    total = 0.0
    for item in items:
        seconds = cost(item, args.runs)
        shown = "unimportable" if seconds is None else f"{seconds * 1000:.1f}"
        total += seconds or 0.0
        print(f"{item.holder + ':' + str(item.line):<44} {item.target:<36} {shown:>16}")
    print(f"sum (an upper bound: targets overlap): {total * 1000:.0f} ms")


if __name__ == "__main__":
    main()
