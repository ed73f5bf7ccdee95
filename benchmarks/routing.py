"""How fast inbound indicators are routed to the organisations whose assets they hit.

Run on demand: ``python benchmarks/routing.py [N_INDICATORS] [N_PREFIXES] [N_DOMAINS]`` (default
200,000 indicators against 10,000 IPv4 prefixes of /8 to /30 and 10,000 domains).  Indicators are
STIX indicator objects with one comparison in the pattern (addresses, ranges, domains, URLs),
about a third of them inside some declared asset.  ``cirt.routing.AssetIndex.route`` (the pattern
read and the look-ups) is timed against a plain linear scan over the same declared assets with the
same observables (``ipaddress`` containment, ``endswith`` on domains), which is measured on a
sample because it is slow; both must agree on every sampled indicator.  Rates by CPU time of this
process (the machine is shared); the floor is 100,000 indicators/s.
"""

from __future__ import annotations

import ipaddress
import os
import random
import sys
import time
from typing import Any

from cirt.routing import AssetIndex, observables

FLOOR = 100_000


def declared(
    n_prefixes: int, n_domains: int, rng: random.Random
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    prefixes = []
    for i in range(n_prefixes):
        length = rng.randint(8, 30)
        network = ipaddress.ip_network((rng.getrandbits(32), length), strict=False)
        prefixes.append((f"org{i % 500}", str(network)))
    domains = [(f"org{i % 500}", f"d{i}-{rng.getrandbits(24):x}.example") for i in range(n_domains)]
    return prefixes, domains


def indicators(
    n: int, prefixes: list[tuple[str, str]], domains: list[tuple[str, str]], rng: random.Random
) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.35:
            if rng.random() < 0.5:
                network = ipaddress.ip_network(rng.choice(prefixes)[1])
                address = ipaddress.ip_address(
                    int(network.network_address) + rng.randrange(network.num_addresses)
                )
            else:
                address = ipaddress.ip_address(rng.getrandbits(32))
            pattern = f"[ipv4-addr:value = '{address}']"
        elif roll < 0.45:
            network = ipaddress.ip_network((rng.getrandbits(32), rng.randint(16, 32)), strict=False)
            pattern = f"[ipv4-addr:value ISSUBSET '{network}']"
        elif roll < 0.8:
            base = rng.choice(domains)[1] if rng.random() < 0.5 else f"x{rng.getrandbits(32):x}.test"
            pattern = f"[domain-name:value = 'mail{i % 7}.{base}']"
        else:
            base = rng.choice(domains)[1] if rng.random() < 0.5 else f"y{rng.getrandbits(32):x}.test"
            pattern = f"[url:value = 'https://login.{base}/account?id={i}']"
        out.append({"type": "indicator", "id": f"indicator--{i}", "pattern": pattern, "pattern_type": "stix"})
    return out


def linear(
    obj: dict[str, Any], networks: list[tuple[str, Any]], domains: list[tuple[str, str]]
) -> set[tuple[str, str]]:
    """The plain way: every declared asset compared with every observable."""
    found = set()
    for observable in observables(obj):
        if observable.kind == "ip":
            value = ipaddress.ip_network(observable.value)
            for party, network in networks:
                if value.version == network.version and value.subnet_of(network):
                    found.add((party, str(network)))
        elif observable.kind == "domain":
            for party, domain in domains:
                if observable.value == domain or observable.value.endswith("." + domain):
                    found.add((party, domain))
    return found


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    n_prefixes = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    n_domains = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    rng = random.Random(16)
    prefixes, domains = declared(n_prefixes, n_domains, rng)
    objects = indicators(n, prefixes, domains, rng)
    print(
        f"load average {os.getloadavg()[0]:.2f}; {n:,} indicators against {n_prefixes:,} "
        f"prefixes and {n_domains:,} domains"
    )

    started = time.process_time()
    index = AssetIndex()
    for party, cidr in prefixes:
        index.add_prefix(party, cidr)
    for party, domain in domains:
        index.add_domain(party, domain)
    print(f"index built in {time.process_time() - started:.3f} s CPU")

    wall, cpu = time.perf_counter(), time.process_time()
    hits = 0
    route = index.route
    for obj in objects:
        hits += len(route(obj))
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    rate = n / cpu
    print(f"AssetIndex.route: {rate:,.0f} indicators/s by CPU ({n / wall:,.0f}/s wall), {hits:,} matches")

    networks = [(party, ipaddress.ip_network(cidr)) for party, cidr in prefixes]
    sample = objects[: max(200, n // 1000)]
    cpu = time.process_time()
    expected = [linear(obj, networks, domains) for obj in sample]
    linear_rate = len(sample) / (time.process_time() - cpu)
    for obj, want in zip(sample, expected, strict=True):
        got = {(m.party, m.asset) for m in index.route(obj)}
        assert got == want, (obj["pattern"], got, want)
    print(
        f"linear scan: {linear_rate:,.1f} indicators/s by CPU on a sample of {len(sample):,} "
        f"(same answers on every one)"
    )
    print(
        f"ratio: {rate / linear_rate:,.0f}x the linear scan; floor {FLOOR:,}/s: "
        f"{'met' if rate >= FLOOR else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
