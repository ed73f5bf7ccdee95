"""How fast the sharing gate decides: 100,000 mixed objects in memory, a few recipients.

Run on demand: ``python benchmarks/gate_throughput.py [N]``.  Prints, for each recipient, the
gate's rate next to the rate of a plain Python loop that only reads each object's marking refs
over the same objects, and the ratio between the two.  Rates are given by the wall clock and by
the CPU time of this process (on a shared machine the wall clock measures the neighbours too);
the verdict against the 100,000 objects/s floor uses the CPU time.
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cirt.config import shipped_path
from cirt.gate import Candidate, Recipient, release
from cirt.incidents import OUR_EXTENSION_ID
from cirt.sectors_file import load_community
from cirt.tlp import TLP

FLOOR = 100_000
ORGS = ["cbb", "bel", "bws", "btl", "speednet", "puc", "pitcu", "cirt-bz"]
CONTACTS = ["soc@cbb.bz.example", "cirt@bel.bz.example", "security@bws.bz.example"]
STAMP = "2026-03-10T14:00:00.000Z"


def _id(kind: str, rng: random.Random) -> str:
    return f"{kind}--{uuid.UUID(int=rng.getrandbits(128), version=4)}"


Offer = tuple[dict[str, Any], frozenset[str], frozenset[str], str | None]


def build(n: int, seed: int = 7) -> list[Offer]:
    """``n`` objects: mostly indicators, with relationships, reports, incidents, granular marks.

    Each comes with an audience and an origin (one in ten received from a peer).
    """
    rng = random.Random(seed)
    levels = [None, *TLP]
    out: list[Offer] = []
    ids: list[str] = []
    for i in range(n):
        level = rng.choice(levels)
        marks = [level.marking_id] if level is not None else []
        if i % 997 == 0:
            marks.append("marking-definition--00000000-0000-4000-8000-000000000001")
        roll = i % 20
        if roll < 14 or not ids:
            obj: dict[str, Any] = {
                "type": "indicator",
                "spec_version": "2.1",
                "id": _id("indicator", rng),
                "created": STAMP,
                "modified": STAMP,
                "name": f"ioc {i}",
                "pattern": f"[ipv4-addr:value = '198.51.100.{i % 250}']",
                "pattern_type": "stix",
                "valid_from": STAMP,
                "indicator_types": ["malicious-activity"],
                "labels": ["phishing"],
            }
            if i % 50 == 0:
                obj["description"] = f"secret detail {i}"
                obj["granular_markings"] = [{"marking_ref": TLP.RED.marking_id, "selectors": ["description"]}]
        elif roll < 18:
            obj = {
                "type": "relationship",
                "spec_version": "2.1",
                "id": _id("relationship", rng),
                "created": STAMP,
                "modified": STAMP,
                "relationship_type": "related-to",
                "source_ref": rng.choice(ids),
                "target_ref": rng.choice(ids),
            }
        elif roll == 18:
            obj = {
                "type": "report",
                "spec_version": "2.1",
                "id": _id("report", rng),
                "created": STAMP,
                "modified": STAMP,
                "name": f"report {i}",
                "published": STAMP,
                "object_refs": rng.sample(ids, min(5, len(ids))),
            }
        else:
            obj = {
                "type": "incident",
                "spec_version": "2.1",
                "id": _id("incident", rng),
                "created": STAMP,
                "modified": STAMP,
                "name": f"incident {i}",
                "extensions": {
                    OUR_EXTENSION_ID: {
                        "extension_type": "property-extension",
                        "affected_organisations": rng.sample(ORGS[:5], 2),
                    }
                },
            }
        if marks:
            obj["object_marking_refs"] = marks
        ids.append(obj["id"])
        out.append(
            (
                obj,
                frozenset(rng.sample(ORGS, rng.randint(0, 3))),
                frozenset(rng.sample(CONTACTS, rng.randint(0, 1))),
                "taxii:csirtamericas" if i % 10 == 0 else None,
            )
        )
    return out


def plain_loop(candidates: list[Candidate]) -> int:
    """The baseline: read every object's marking refs, nothing else."""
    count = 0
    for cand in candidates:
        count += len(cand.obj.get("object_marking_refs", ()))
    return count


@dataclass(frozen=True)
class Timing:
    """Best of several runs: wall-clock seconds, and CPU seconds of this process alone (the
    honest figure on a machine other work is sharing)."""

    wall: float
    cpu: float


def best_of(repeats: int, func: Any) -> Timing:
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        func()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return Timing(min(walls), min(cpus))


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    community = load_community(shipped_path("sectors.yaml"))
    offers = build(n)
    candidates: list[Candidate] = []
    prepare = best_of(3, lambda: candidates.__setitem__(slice(None), [Candidate(*offer) for offer in offers]))
    recipients = [
        Recipient("org", "cbb", "bulletin"),
        Recipient("contact", "soc@cbb.bz.example", "email"),
        Recipient("partner", "csirtamericas", "taxii"),
        Recipient("public", "public", "export"),
    ]
    loop = best_of(5, lambda: plain_loop(candidates))
    load = os.getloadavg()[0]
    print(
        f"{n:,} objects; load average {load:.1f} on {os.cpu_count()} cores; "
        "rates as wall-clock / CPU time of this process"
    )
    print(f"plain loop over marking refs: {n / loop.wall:,.0f} / {n / loop.cpu:,.0f} objects/s")
    print(
        f"preparing candidates (once per object, whatever the number of recipients): "
        f"{n / prepare.wall:,.0f} / {n / prepare.cpu:,.0f} objects/s"
    )
    print(f"{'recipient':<36}{'released':>9}{'withheld':>9}{'gate objects/s':>24}{'loop/gate':>11}")
    slowest: Timing | None = None
    for recipient in recipients:
        result = release(candidates, recipient, community, default_tlp=TLP.AMBER)
        took = best_of(3, lambda r=recipient: release(candidates, r, community, default_tlp=TLP.AMBER))
        if slowest is None or took.cpu > slowest.cpu:
            slowest = took
        rates = f"{n / took.wall:,.0f} / {n / took.cpu:,.0f}"
        print(
            f"{recipient.key + ' (' + recipient.channel + ')':<36}{len(result.released):>9,}"
            f"{len(result.withheld):>9,}{rates:>24}{took.cpu / loop.cpu:>10.1f}x"
        )
    assert slowest is not None
    # From scratch: fresh candidates, the first release works out the references it needs.
    cold_candidates = [Candidate(*offer) for offer in offers]
    cold = best_of(1, lambda: release(cold_candidates, recipients[1], community, default_tlp=TLP.AMBER))
    end_to_end = n / (prepare.cpu + cold.cpu)
    gate_rate = n / slowest.cpu
    verdict = "meets" if min(gate_rate, end_to_end) >= FLOOR else "BELOW"
    print(
        f"slowest recipient: {gate_rate:,.0f} objects/s CPU; from scratch (preparing the "
        f"candidates and a first release to {recipients[1].key}): {end_to_end:,.0f} "
        f"objects/s CPU ({verdict} the {FLOOR:,}/s floor)"
    )
    return 0 if min(gate_rate, end_to_end) >= FLOOR else 1


if __name__ == "__main__":
    sys.exit(main())
