"""The gate pauses the cyclic collector only around large releases, and safely across threads."""

from __future__ import annotations

import gc
import threading
from typing import Any

from cirt.config import shipped_path
from cirt.gate import Candidate, Recipient, release
from cirt.sectors_file import load_community
from cirt.tlp import TLP


def _offer(n: int) -> list[Candidate]:
    return [
        Candidate(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{i:08d}-0000-4000-8000-000000000000",
                "created": "2026-03-01T00:00:00.000Z",
                "modified": "2026-03-01T00:00:00.000Z",
                "pattern": "[ipv4-addr:value = '192.0.2.1']",
                "pattern_type": "stix",
                "valid_from": "2026-03-01T00:00:00Z",
                "object_marking_refs": [TLP.GREEN.marking_id],
            }
        )
        for i in range(n)
    ]


def test_concurrent_large_releases_leave_the_collector_as_they_found_it() -> None:
    community = load_community(shipped_path("sectors.yaml"))
    offered = _offer(6_000)
    seen: list[bool] = []
    errors: list[Any] = []

    def run() -> None:
        try:
            for _ in range(3):
                result = release(offered, Recipient("org", "bel"), community, default_tlp=TLP.AMBER)
                assert len(result.released) == len(offered)
        except Exception as exc:  # reported below, with the thread's failure
            errors.append(exc)

    assert gc.isenabled()
    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen.append(gc.isenabled())
    assert not errors and seen == [True]
    gc.disable()
    try:
        release(offered, Recipient("org", "bel"), community, default_tlp=TLP.AMBER)
        assert not gc.isenabled(), "a collector turned off by someone else stays off"
    finally:
        gc.enable()
