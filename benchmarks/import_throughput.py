"""`cirt import` against `stix2.parse` on the same 100,000-indicator bundle.

Run on demand: ``python benchmarks/import_throughput.py [N] [--full]``.  Writes a bundle of N
(default 100,000) indicators (address, domain, URL and SHA-256 patterns, TLP:GREEN and AMBER,
one identity as their creator), then times:

- ``cirt import FILE --json`` as a separate process into a fresh SQLite workspace: reading,
  validating every object, storing all of them in one transaction, process start included;
- ``stix2.parse`` (``allow_custom=False``) on the same bundle's JSON text: a bundle of its first
  10,000 objects, the rate scaled up, unless ``--full`` (parsing 100,000 takes minutes; the
  per-object cost does not fall with N).

Prints both rates in objects/s (wall clock, and per CPU-second, which a busy machine disturbs
less) and their ratios; the acceptance floor is 10x in wall-clock throughput.
"""

from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

FLOOR = 10.0
SLICE = 10_000
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
CREATOR = "identity--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061"


def bundle(n: int, seed: int = 11) -> dict[str, Any]:
    rng = random.Random(seed)
    objects: list[dict[str, Any]] = [{
        "type": "identity", "spec_version": "2.1", "id": CREATOR,
        "created": "2026-01-05T09:00:00.000Z", "modified": "2026-01-05T09:00:00.000Z",
        "name": "Partner CERT", "identity_class": "organization"}]
    for i in range(n - 1):
        kind = i % 4
        if kind == 0:
            pattern = f"[ipv4-addr:value = '10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}']"
        elif kind == 1:
            pattern = f"[domain-name:value = 'host{i}.bad.example']"
        elif kind == 2:
            pattern = f"[url:value = 'http://host{i}.bad.example/gate.php?id={i}']"
        else:
            pattern = f"[file:hashes.'SHA-256' = '{rng.getrandbits(256):064x}']"
        stamp = f"2026-02-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}.{i % 1000:03d}Z"
        objects.append({
            "type": "indicator", "spec_version": "2.1",
            "id": f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            "created_by_ref": CREATOR, "created": stamp, "modified": stamp,
            "name": f"Indicator {i}", "indicator_types": ["malicious-activity"],
            "pattern": pattern, "pattern_type": "stix", "valid_from": stamp,
            "object_marking_refs": [AMBER if i % 10 == 0 else GREEN]})
    return {"type": "bundle", "id": f"bundle--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            "objects": objects}


def time_cirt_import(path: Path, workdir: Path) -> tuple[float, float, dict[str, Any]]:
    """Wall-clock and CPU seconds of ``cirt import`` in its own process, and its summary."""
    home = workdir / "ws"
    env = {**os.environ, "CIRT_HOME": str(home), "CIRT_ANALYST": "benchmark"}
    env.pop("CIRT_DB_URL", None)
    subprocess.run([sys.executable, "-m", "cirt", "init"], env=env, check=True,
                   capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cirt", "import", str(path), "--json"],
                          env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        sys.exit(f"cirt import failed: {done.stderr.strip()}")
    return elapsed, cpu, json.loads(done.stdout)


def time_stix2_parse(objects: list[dict[str, Any]], bundle_id: str) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``stix2.parse`` on the JSON text of a bundle of ``objects``.

    The text, as ``cirt import`` gets it: both sides decode the same JSON.
    """
    import stix2

    text = json.dumps({"type": "bundle", "id": bundle_id, "objects": objects})
    stix2.parse(objects[0], allow_custom=False, version="2.1")  # imports and registries warm
    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stix2.parse(text, allow_custom=False, version="2.1")
    return time.perf_counter() - start, time.process_time() - cpu


def main(argv: list[str]) -> int:
    full = "--full" in argv
    numbers = [a for a in argv if a.isdigit()]
    n = int(numbers[0]) if numbers else 100_000
    data = bundle(n)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = workdir / "bundle.json"
        path.write_text(json.dumps(data))
        size = path.stat().st_size
        print(f"bundle: {n:,} objects ({n - 1:,} indicators), {size / 1e6:.1f} MB")

        elapsed, cpu, summary = time_cirt_import(path, workdir)
        stored = summary["new"] + summary["updated"]
        if stored != n or summary["rejected"]:
            sys.exit(f"cirt import stored {stored} of {n}: {summary['rejected'][:3]}")
        cirt_rate = n / elapsed
        print(f"cirt import (read + validate + store, fresh SQLite workspace, process start"
              f" included): {elapsed:.2f} s, {cirt_rate:,.0f} objects/s"
              f" (CPU {cpu:.2f} s, {n / cpu:,.0f} objects/CPU-s)")

        sample = data["objects"] if full or n <= SLICE else data["objects"][:SLICE]
        parse_elapsed, parse_cpu = time_stix2_parse(sample, data["id"])
        parse_rate = len(sample) / parse_elapsed
        scope = "the whole bundle" if len(sample) == n else (
            f"a bundle of the first {len(sample):,} objects, rate scaled to {n:,}")
        print(f"stix2.parse (allow_custom=False, {scope}): {parse_elapsed:.2f} s for"
              f" {len(sample):,}, {parse_rate:,.0f} objects/s"
              + ("" if len(sample) == n else f" (~{n / parse_rate:.0f} s for {n:,})")
              + f" (CPU {len(sample) / parse_cpu:,.0f} objects/CPU-s)")

    ratio = cirt_rate / parse_rate
    cpu_ratio = (n / cpu) / (len(sample) / parse_cpu)
    verdict = "meets" if ratio >= FLOOR else "MISSES"
    print(f"ratio: cirt import is {ratio:.1f}x stix2.parse ({verdict} the {FLOOR:.0f}x floor);"
          f" {cpu_ratio:.1f}x in CPU time (steadier on a busy machine)")
    return 0 if ratio >= FLOOR else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
