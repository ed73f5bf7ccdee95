"""`cirt import` against `stix2.parse`: a synthetic 100,000-indicator bundle, or a real corpus.

Real corpus: ``python benchmarks/import_throughput.py --corpus DIR`` imports every ``*.json`` under
DIR (STIX 2.1 and 2.0 bundles, MISP events; README "Benchmarks" says how to assemble one from
public data) into one fresh workspace, all files in one process (``cirt.ingest.import_file``,
what ``cirt import --allow-custom`` calls), and runs the peer on the same files in one process:
``stix2.parse(obj, allow_custom=True)`` on every object of the decoded file (objects it refuses
are counted, not fatal; MISP and other files that are not STIX bundles have no stix2 peer and are
left out of the ratio).  Prints
per file and in total: objects, stored, rejected and conflicts with their reasons grouped, wall
and CPU seconds, peak memory of both sides, and the ratios (targets: 10x wall and CPU, peak
memory at most 1.5x).  Then the floor (``floor``): what decoding alone, canonical text, the rows
alone and the rows as ingest writes them cost on the same files against stix2.parse, and so the
best ratio any validator could reach in this design; and the load average (the machine may be
shared).

Synthetic: ``python benchmarks/import_throughput.py [N] [--full]``.  Writes a bundle of N
(default 100,000) indicators (address, domain, URL and SHA-256 patterns, TLP:GREEN and AMBER,
one identity as their creator), then times:

- ``cirt import FILE --json`` as a separate process into a fresh SQLite workspace: reading,
  validating every object, storing all of them in one transaction, process start included;
- ``stix2.parse`` (``allow_custom=False``) on the same bundle's JSON text: a bundle of its first
  10,000 objects, the rate scaled up, unless ``--full`` (parsing 100,000 takes minutes; the
  per-object cost does not fall with N).

Prints both rates in objects/s (wall clock, and per CPU-second, which a busy machine disturbs
less) and their ratios, and both peak memories; the target is 15x in wall-clock throughput.
"""

from __future__ import annotations

import collections
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

FLOOR = 15.0
CORPUS_FLOOR = 10.0
MEMORY_CEILING = 1.5
SLICE = 10_000
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
CREATOR = "identity--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061"


def bundle(n: int, seed: int = 11) -> dict[str, Any]:
    rng = random.Random(seed)
    objects: list[dict[str, Any]] = [
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": CREATOR,
            "created": "2026-01-05T09:00:00.000Z",
            "modified": "2026-01-05T09:00:00.000Z",
            "name": "Partner CERT",
            "identity_class": "organization",
        }
    ]
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
        objects.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
                "created_by_ref": CREATOR,
                "created": stamp,
                "modified": stamp,
                "name": f"Indicator {i}",
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": stamp,
                "object_marking_refs": [AMBER if i % 10 == 0 else GREEN],
            }
        )
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        "objects": objects,
    }


def time_cirt_import(path: Path, workdir: Path) -> tuple[float, float, int, dict[str, Any]]:
    """Wall-clock and CPU seconds and peak memory of ``cirt import`` in its own process, and its
    summary."""
    home = workdir / "ws"
    env = {**os.environ, "CIRT_HOME": str(home), "CIRT_ANALYST": "benchmark"}
    env.pop("CIRT_DB_URL", None)
    subprocess.run([sys.executable, "-m", "cirt", "init"], env=env, check=True, capture_output=True)
    elapsed, cpu, rss, out = run_child([sys.executable, "-m", "cirt", "import", str(path), "--json"], env)
    return elapsed, cpu, rss, json.loads(out)


def time_stix2_parse(objects: list[dict[str, Any]], workdir: Path) -> tuple[float, float, int]:
    """Wall-clock and CPU seconds of ``stix2.parse`` (``allow_custom=False``) on every object of
    a file of ``objects`` (decoding included, as ``cirt import`` decodes), in its own process,
    and that process's peak memory."""
    path = workdir / "peer.json"
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--" + str(uuid.uuid4()), "objects": objects}))
    _, _, rss, out = run_child([sys.executable, "-c", PEER, "strict", str(path), "2.1"])
    (peer,) = json.loads(out)
    if peer["refused"]:
        sys.exit(f"stix2.parse refused {peer['refused']} synthetic objects")
    return peer["wall"], peer["cpu"], rss


# --- measuring a child process ------------------------------------------------------------------


def run_child(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds and peak resident memory (KiB) of one child, and its stdout."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            sys.exit(f"{' '.join(command[:5])} failed: {err.read().decode()[-500:]}")
        return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, out.read().decode()


PEER = """
import json, sys, time, warnings
import stix2
warnings.simplefilter("ignore")
custom = sys.argv[1] == "custom"
stix2.parse({"type": "identity", "spec_version": "2.1", "name": "warm", "identity_class": "x",
             "id": "identity--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
             "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z"},
            allow_custom=True, version="2.1")
results = []
for path, version in zip(sys.argv[2::2], sys.argv[3::2]):
    start, cpu = time.perf_counter(), time.process_time()
    objects = json.loads(open(path, "rb").read())["objects"]
    parsed, refused = [], 0
    for obj in objects:
        try:
            parsed.append(stix2.parse(obj, allow_custom=custom, version=version))
        except Exception:
            refused += 1
    results.append({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                    "objects": len(objects), "refused": refused})
    del parsed
print(json.dumps(results))
"""

CIRT = """
import gc, json, sys, time
gc.disable()  # as the cirt import command runs
from cirt.errors import InputRejected
from cirt.ingest import import_file
from cirt.workspace import Workspace
results = []
with Workspace.open(sys.argv[1]) as ws:
    for path in sys.argv[2:]:
        start, cpu = time.perf_counter(), time.process_time()
        try:
            summary, error = import_file(ws.context, path, allow_custom=True).to_dict(), None
        except InputRejected as exc:
            summary, error = None, str(exc)
        results.append({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                        "summary": summary, "error": error})
print(json.dumps(results))
"""


FLOOR_PARTS = """
import gc, json, sys, time
gc.disable()  # as the cirt import command runs
from cirt.errors import InputRejected
from cirt.ingest import classify
from cirt.store import Provenance, canonical_json
from cirt.store.ingest_state import ImportRow
from cirt.untrusted_json import parse_json
from cirt.workspace import Workspace

def timed(work):
    start, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - start, time.process_time() - cpu

parts = {"json.loads": [0.0, 0.0], "parse_json": [0.0, 0.0], "canonical": [0.0, 0.0],
         "rows": [0.0, 0.0], "write": [0.0, 0.0]}
def add(name, wall, cpu):
    parts[name][0] += wall
    parts[name][1] += cpu

# the objects and provenance rows only, texts made beforehand: no plain facts, no index
def rows_alone(db, rows, bodies, path):
    with db.transaction():
        db.executemany(
            "INSERT INTO objects (id, modified, type, spec_version, added, tlp, latest, origin,"
            " body, plain) VALUES (?, ?, ?, ?, ?, ?, 1, 'import', ?, '-')",
            [(r.id, r.version, r.type, r.spec_version, f"2026-01-01T00:00:00.{n:06d}Z", r.tlp,
              bodies[n]) for n, r in enumerate(rows)])
        db.executemany(
            "INSERT INTO provenance (object_id, modified, source_kind, source, collection,"
            " received, markings) VALUES (?, ?, 'import', ?, NULL, ?, '{}')",
            [(r.id, r.version, path, f"2026-01-01T00:00:00.{n:06d}Z") for n, r in enumerate(rows)])

with Workspace.open(sys.argv[1]) as ws, Workspace.open(sys.argv[2]) as bare:
    for path in sys.argv[3:]:
        data = open(path, "rb").read()
        add("json.loads", *timed(lambda: json.loads(data))[1:])
        try:
            document, wall, cpu = timed(lambda: parse_json(data, path))
            add("parse_json", wall, cpu)
            objects = [o for o in classify(document, path).objects if isinstance(o, dict)]
        except InputRejected:  # refused as a whole, as cirt import refuses it
            continue
        del data
        add("canonical", *timed(lambda: [canonical_json(o) for o in objects])[1:])
        # every version once (the first of an id and version), as ingest hands them over
        rows = list({(str(o.get("id")), str(o.get("modified") or o.get("created") or "")):
                     ImportRow(str(o.get("id")), str(o.get("modified") or o.get("created") or ""),
                               str(o.get("type")), str(o.get("spec_version", "2.1")), 2,
                               tuple(o.get("object_marking_refs", ())), o)
                     for o in objects}.values())
        stored = ws.store.stored_versions(r.id for r in rows)  # shared by several files
        rows = [r for r in rows if all(v.modified != r.version for v in stored.get(r.id, ()))]
        rows.sort(key=lambda r: (r.id, r.version))
        bodies = [canonical_json(r.obj) for r in rows]
        add("rows", *timed(lambda: rows_alone(bare.store.db, rows, bodies, path))[1:])
        del bodies
        add("write", *timed(lambda: ws.store.put_import(
            rows, provenance=Provenance("import", path), stored=stored))[1:])
print(json.dumps(parts))
"""


def floor(stix: list[Path], peer_wall: float, peer_cpu: float) -> None:
    """What the work no design of ``cirt import`` can skip costs on the same files, against
    stix2.parse: decoding the JSON (the standard library's ``json.loads``, and the one inbound
    parser with its checks), encoding each object's canonical text, writing the rows alone (the
    objects and provenance tables, texts made beforehand, one commit per file) and writing them
    as ingest does (``put_import`` into a fresh workspace: the texts, plain facts and the search
    index too).  Validation, versions and ownership are left out, so the sum bounds the ratio
    any validator could reach here."""
    with tempfile.TemporaryDirectory() as tmp:
        homes = [Path(tmp) / "ws", Path(tmp) / "bare"]
        env = {**os.environ, "CIRT_ANALYST": "benchmark"}
        env.pop("CIRT_DB_URL", None)
        for home in homes:
            subprocess.run(
                [sys.executable, "-m", "cirt", "init"],
                check=True,
                env={**env, "CIRT_HOME": str(home)},
                capture_output=True,
            )
        _, _, _, out = run_child([sys.executable, "-c", FLOOR_PARTS, *map(str, homes), *map(str, stix)], env)
    parts = json.loads(out)
    for name, what in (
        ("json.loads", "decoding alone (json.loads)"),
        ("parse_json", "decoding with cirt's checks (parse_json)"),
        ("canonical", "canonical text of every object"),
        ("rows", "writing the rows alone (objects, provenance)"),
        ("write", "writing as ingest does (+ texts, facts, index)"),
    ):
        wall, cpu = parts[name]
        print(
            f"floor: {what:46} {wall:5.2f} s wall, {cpu:5.2f} s CPU"
            f" = {peer_cpu / cpu if cpu else float('inf'):5.1f}x stix2.parse's CPU"
        )
    for names, what in (
        (("parse_json", "canonical", "rows"), "decoding + texts + rows alone"),
        (("parse_json", "write"), "decoding + writing as ingest does"),
    ):
        wall = sum(parts[name][0] for name in names)
        cpu = sum(parts[name][1] for name in names)
        print(
            f"floor: {what} (no validation, no start-up): {wall:.2f} s wall, {cpu:.2f} s"
            f" CPU, so at most {peer_wall / wall:.1f}x wall, {peer_cpu / cpu:.1f}x CPU"
        )


def reason_class(reason: str) -> str:
    """A rejection reason without its ids, values and numbers: what kind of refusal it is."""
    reason = re.sub(r"[a-z0-9-]+--[0-9a-fA-F-]{36}", "<id>", reason)
    reason = re.sub(r"'[^']*'", "'…'", reason)
    reason = re.sub(r"\d[\d,:.TZ-]*", "N", reason)
    return reason[:140]


def kind_of(path: Path) -> str:
    """'2.0' or '2.1' for a STIX bundle (the content's version: a bundle's spec_version), else
    'other' (MISP JSON and the rest: no stix2 peer)."""
    try:
        document = json.loads(path.read_bytes())
    except ValueError:
        return "other"
    if (
        not isinstance(document, dict)
        or document.get("type") != "bundle"
        or not isinstance(document.get("objects"), list)
    ):
        return "other"
    return "2.0" if document.get("spec_version") == "2.0" else "2.1"


def corpus(directory: Path) -> int:
    """Every file imported by one process in one fresh workspace (``import_file``, what
    ``cirt import`` calls; process start and imports counted), the peer in one process (its
    start and imports not counted)."""
    files = sorted(p for p in directory.rglob("*.json") if p.is_file())
    if not files:
        sys.exit(f"{directory}: no *.json files")
    kinds = {path: kind_of(path) for path in files}
    stix = [path for path in files if kinds[path] != "other"]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "ws"
        env = {**os.environ, "CIRT_HOME": str(home), "CIRT_ANALYST": "benchmark"}
        env.pop("CIRT_DB_URL", None)
        subprocess.run([sys.executable, "-m", "cirt", "init"], env=env, check=True, capture_output=True)
        wall, cpu, rss, out = run_child([sys.executable, "-c", CIRT, str(home), *map(str, files)], env)
        ours = dict(zip(files, json.loads(out), strict=True))
        peer_args = [a for path in stix for a in (str(path), kinds[path])]
        _, _, peer_rss, peer_out = run_child([sys.executable, "-c", PEER, "custom", *peer_args])
        theirs = dict(zip(stix, json.loads(peer_out), strict=True))
    print(
        f"{'file':44} {'objects':>8} {'stored':>7} {'dup':>5} {'rej':>4} {'confl':>5}"
        f" {'cirt s':>7} {'stix2 s':>8} {'x wall':>6} {'x cpu':>6}"
    )
    totals: dict[str, float] = collections.defaultdict(float)
    for path in files:
        mine, peer = ours[path], theirs.get(path)
        if mine["error"]:
            print(f"{path.name[:44]:44} refused as a whole: {mine['error']}")
            continue
        summary = mine["summary"]
        refusals = summary["rejected"] + summary["conflicts"]
        stored = summary["new"] + summary["updated"]
        objects = peer["objects"] if peer else stored + summary["duplicates"] + len(refusals)
        row = (
            f"{path.name[:44]:44} {objects:>8,} {stored:>7,} {summary['duplicates']:>5,}"
            f" {len(summary['rejected']):>4} {len(summary['conflicts']):>5}"
            f" {mine['wall']:>7.2f}"
        )
        if peer:
            row += (
                f" {peer['wall']:>8.2f} {peer['wall'] / mine['wall']:>6.1f} {peer['cpu'] / mine['cpu']:>6.1f}"
            )
            for key in ("objects", "refused"):
                totals[f"peer_{key}"] += peer[key]
            totals["peer_wall"] += peer["wall"]
            totals["peer_cpu"] += peer["cpu"]
        else:
            row += "  (not a STIX bundle: no stix2 peer)"
        totals["rejected"] += len(summary["rejected"])
        totals["conflicts"] += len(summary["conflicts"])
        print(row)
        for reason, count in collections.Counter(reason_class(r["reason"]) for r in refusals).most_common():
            print(f"    {count:>6,} x {reason}")
        if peer and peer["refused"]:
            print(f"    stix2.parse refused {peer['refused']:,} object(s) of this file")
    wall_ratio = totals["peer_wall"] / wall
    cpu_ratio = totals["peer_cpu"] / cpu
    memory = rss / peer_rss
    print(
        f"corpus: {len(files)} files, {int(totals['peer_objects']):,} STIX objects; cirt"
        f" rejected {int(totals['rejected']):,} and {int(totals['conflicts']):,} conflicts,"
        f" stix2.parse refused {int(totals['peer_refused']):,}"
    )
    print(
        f"cirt import, all files in one process (start and imports included): {wall:.1f} s"
        f" wall, {cpu:.1f} s CPU, peak {rss / 1024:.0f} MB; stix2.parse on the STIX files"
        f" (start and imports not included): {totals['peer_wall']:.1f} s wall,"
        f" {totals['peer_cpu']:.1f} s CPU, peak {peer_rss / 1024:.0f} MB"
    )
    print(
        f"ratio: {wall_ratio:.1f}x wall, {cpu_ratio:.1f}x CPU (target {CORPUS_FLOOR:.0f}x);"
        f" peak memory {memory:.2f}x (target at most {MEMORY_CEILING}x)"
    )
    floor(stix, totals["peer_wall"], totals["peer_cpu"])
    print(
        f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        f" ({os.cpu_count()} CPUs; the machine may be shared)"
    )
    return 0 if min(wall_ratio, cpu_ratio) >= CORPUS_FLOOR and memory <= MEMORY_CEILING else 1


def main(argv: list[str]) -> int:
    if "--corpus" in argv:
        index = argv.index("--corpus")
        if index + 1 >= len(argv):
            sys.exit("--corpus needs a directory")
        return corpus(Path(argv[index + 1]))
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

        elapsed, cpu, rss, summary = time_cirt_import(path, workdir)
        stored = summary["new"] + summary["updated"]
        if stored != n or summary["rejected"]:
            sys.exit(f"cirt import stored {stored} of {n}: {summary['rejected'][:3]}")
        cirt_rate = n / elapsed
        print(
            f"cirt import (read + validate + store, fresh SQLite workspace, process start"
            f" included): {elapsed:.2f} s, {cirt_rate:,.0f} objects/s"
            f" (CPU {cpu:.2f} s, {n / cpu:,.0f} objects/CPU-s)"
        )

        sample = data["objects"] if full or n <= SLICE else data["objects"][:SLICE]
        parse_elapsed, parse_cpu, parse_rss = time_stix2_parse(sample, workdir)
        parse_rate = len(sample) / parse_elapsed
        scope = (
            "the whole bundle"
            if len(sample) == n
            else (f"a bundle of the first {len(sample):,} objects, rate scaled to {n:,}")
        )
        print(
            f"stix2.parse (allow_custom=False, {scope}): {parse_elapsed:.2f} s for"
            f" {len(sample):,}, {parse_rate:,.0f} objects/s"
            + ("" if len(sample) == n else f" (~{n / parse_rate:.0f} s for {n:,})")
            + f" (CPU {len(sample) / parse_cpu:,.0f} objects/CPU-s)"
        )

    ratio = cirt_rate / parse_rate
    cpu_ratio = (n / cpu) / (len(sample) / parse_cpu)
    verdict = "meets" if ratio >= FLOOR else "MISSES"
    print(
        f"ratio: cirt import is {ratio:.1f}x stix2.parse ({verdict} the {FLOOR:.0f}x target);"
        f" {cpu_ratio:.1f}x in CPU time (steadier on a busy machine)"
    )
    memory = rss / parse_rss
    scope = "same file" if len(sample) == n else f"stix2 on {len(sample):,} objects only: use --full"
    print(
        f"peak memory: cirt import {rss / 1024:.0f} MB, stix2.parse {parse_rss / 1024:.0f} MB"
        f" = {memory:.2f}x ({scope}; target at most {MEMORY_CEILING}x)"
    )
    return 0 if ratio >= FLOOR else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
