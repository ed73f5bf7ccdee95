"""``cirt search`` on 1,000,000 indicators and ``cirt report`` on 100,000 incidents with
1,000,000 tasks, on SQLite and on PostgreSQL.

Run on demand:  python benchmarks/memory.py [--indicators 1000000] [--incidents 100000]
                    [--tasks-per-incident 10] [--searches 200] [--only search|report]
                    [--pg-url postgresql://user@host:port/postgres]

The data is built with set-based SQL inside each engine (a recursive CTE on SQLite,
generate_series on PostgreSQL): indicator versions with their index rows (values and words, as
the put path writes them), incidents with organisations, facts and due items.  Then:
- search: ``cirt.search.search`` in one process for a mix of terms (an address inside a /24
  range, a single address, a domain's parent zone, a hash in upper case, a URL spelt
  differently, words), p50 / p95 / max; the peer is what an analyst has without the index, one
  substring scan of the stored JSON (``body LIKE '%term%'``), and the ratio is scan / p95;
- report: ``cirt report --period 2026-Q4 --format json`` as a fresh process (start-up included)
  and ``Reporter.build`` alone; the peer is one full scan of the tasks table.
Without ``--pg-url`` a throw-away PostgreSQL server is started as the tests start it
(tests/pg.py), with durability off.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
STAMP = "2026-03-01T00:00:00.000Z"


class Dialect:
    """The few expressions that differ between the engines."""

    def __init__(self, name: str) -> None:
        self.name = name

    def numbers(self, count: int) -> str:
        if self.name == "sqlite":
            return f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {count - 1}) "
        return f"WITH n(i) AS (SELECT CAST(g AS BIGINT) FROM generate_series(0, {count - 1}) g) "

    def hex(self, expr: str, width: int) -> str:
        if self.name == "sqlite":
            return f"printf('%0{width}x', {expr})"
        return f"lpad(to_hex({expr}), {width}, '0')"

    def text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)"


def indicator_sql(d: Dialect, count: int) -> list[str]:
    """Objects, observable_index, search_text and incident links for ``count`` indicators.

    i % 10: 0-3 an address 10.x.y.z, 4 a /24 range in 172.16.0.0/12 and up, 5-7 a domain
    host{i}.zone{i / 10 % 5000}.example, 8 a URL http://site{i}.example/p{i}, 9 a SHA-256.
    """
    t = d.text
    ip = "(167772160 + i)"
    ip_text = (
        f"'10.' || {t(f'({ip} >> 16) & 255')} || '.' || {t(f'({ip} >> 8) & 255')} || '.'"
        f" || {t(f'{ip} & 255')}"
    )
    base = "(2886729728 + ((i / 10) << 8))"
    net_text = (
        f"{t(f'({base} >> 24) & 255')} || '.' || {t(f'({base} >> 16) & 255')} || '.' ||"
        f" {t(f'({base} >> 8) & 255')} || '.0/24'"
    )
    domain = f"'host' || {t('i')} || '.zone' || {t('(i / 10) % 5000')} || '.example'"
    url = f"'http://site' || {t('i')} || '.example/p' || {t('i')}"
    digest = d.hex("i * 2654435761", 64)
    value = (
        f"CASE WHEN i % 10 < 4 THEN {ip_text} WHEN i % 10 = 4 THEN {net_text}"
        f" WHEN i % 10 < 8 THEN {domain} WHEN i % 10 = 8 THEN {url} ELSE {digest} END"
    )
    pattern = (
        "CASE WHEN i % 10 < 4 THEN '[ipv4-addr:value = ''' || v || ''']'"
        " WHEN i % 10 = 4 THEN '[ipv4-addr:value ISSUBSET ''' || v || ''']'"
        " WHEN i % 10 < 8 THEN '[domain-name:value = ''' || v || ''']'"
        " WHEN i % 10 = 8 THEN '[url:value = ''' || v || ''']'"
        " ELSE '[file:hashes.''SHA-256'' = ''' || v || ''']' END"
    )
    object_id = f"'indicator--' || {d.hex('i', 8)} || '-0000-4000-8000-' || {d.hex('i', 12)}"
    body = (
        '\'{"created":"'
        + STAMP
        + '","id":"\' || id || \'","modified":"'
        + STAMP
        + '","name":"\' || v || \'","object_marking_refs":["'
        + GREEN
        + '"],"pattern":"\' || p || \'","pattern_type":"stix","spec_version":'
        '"2.1","type":"indicator","valid_from":"' + STAMP + "\"}'"
    )
    rows = (
        f"{d.numbers(count)}, r AS (SELECT i, {object_id} AS id, {value} AS v FROM n),"
        f" q AS (SELECT i, id, v, {pattern} AS p FROM r) "
    )
    kind = (
        "CASE WHEN i % 10 < 5 THEN 'ip4' WHEN i % 10 < 8 THEN 'domain'"
        " WHEN i % 10 = 8 THEN 'url' ELSE 'hash' END"
    )
    start = f"CASE WHEN i % 10 < 4 THEN {d.hex(ip, 8)} ELSE {d.hex(base, 8)} END"
    end = f"CASE WHEN i % 10 < 4 THEN {d.hex(ip, 8)} ELSE {d.hex(f'{base} + 255', 8)} END"
    domain_key = f"'example.zone' || {t('(i / 10) % 5000')} || '.host' || {t('i')} || '.'"
    stored = "CASE WHEN i % 10 < 4 THEN v || '/32' ELSE v END"
    lookup = f"CASE WHEN i % 10 < 5 THEN {start} WHEN i % 10 < 8 THEN {domain_key} ELSE v END"
    return [
        f"INSERT INTO objects (id, modified, type, spec_version, added, tlp, latest, origin, body)"
        f" {rows} SELECT id, '{STAMP}', 'indicator', '2.1', '{STAMP}', 1, 1, 'local', {body}"
        " FROM q",
        f"INSERT INTO observable_index (object_id, object_type, kind, value, lookup, ip_end,"
        f" added) {rows} SELECT id, 'indicator', {kind}, {stored}, {lookup},"
        f" CASE WHEN i % 10 < 5 THEN {end} END, '{STAMP}' FROM q",
        f"INSERT INTO observable_index (object_id, object_type, kind, value, lookup, ip_end,"
        f" added) {rows} SELECT id, 'indicator', 'domain', 'site' || {t('i')} || '.example',"
        f" 'example.site' || {t('i')} || '.', NULL, '{STAMP}' FROM q WHERE i % 10 = 8",
        f"INSERT INTO search_text (object_id, object_type, content) {rows}"
        " SELECT id, 'indicator', v || ' ' || p FROM q",
        f"INSERT INTO incident_links (incident_id, object_id) {rows}"
        f" SELECT 'incident--' || {d.hex('i % 1000', 8)} || '-0000-4000-8000-000000000000', id"
        " FROM q",
    ]


def incident_sql(d: Dialect, incidents: int, tasks_per: int) -> list[str]:
    """Incidents over 2026-10..12 with organisations, facts and ``tasks_per`` due items each."""
    t = d.text
    incident_id = f"'incident--' || {d.hex('i', 8)} || '-0000-4000-8000-000000000000'"
    seconds = f"(i * 7776000 / {max(incidents, 1)})"  # spread over 90 days from 1 October
    if d.name == "sqlite":

        def at(offset: str) -> str:
            return f"strftime('%Y-%m-%dT%H:%M:%S.000Z', 1790812800 + {offset}, 'unixepoch')"
    else:

        def at(offset: str) -> str:
            return (
                "to_char(to_timestamp(1790812800 + " + offset + ") AT TIME ZONE 'UTC',"
                ' \'YYYY-MM-DD"T"HH24:MI:SS.000"Z"\')'
            )

    severities = "CASE i % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'medium' WHEN 2 THEN 'high' ELSE 'critical' END"
    categories = (
        "CASE i % 3 WHEN 0 THEN 'fraud:phishing' WHEN 1 THEN 'availability:ddos'"
        " ELSE 'malicious-code:infected-system' END"
    )
    orgs = (
        "CASE i % 5 WHEN 0 THEN 'cbb' WHEN 1 THEN 'bel' WHEN 2 THEN 'bws' WHEN 3 THEN 'btl'"
        " ELSE 'speednet' END"
    )
    statements = [
        f"INSERT INTO incidents (id, reference, title, status, severity, category, tlp, escalation,"
        f" assignee, created, modified) {d.numbers(incidents)} SELECT {incident_id},"
        f" 'BZ-2026-' || {t('i')}, 'Incident ' || {t('i')},"
        f" CASE WHEN i % 3 = 0 THEN 'closed' ELSE 'open' END, {severities}, {categories}, 2,"
        f" CASE i % 4 WHEN 0 THEN 'sector' WHEN 1 THEN 'national' WHEN 2 THEN 'coordinator'"
        f" ELSE 'international' END, NULL, {at(seconds)}, {at(seconds)} FROM n",
        f"INSERT INTO incident_organisations (incident_id, org_id) {d.numbers(incidents)}"
        f" SELECT {incident_id}, {orgs} FROM n",
        f"INSERT INTO incident_facts (incident_id, acknowledged, closed, reporter_kind, channel)"
        f" {d.numbers(incidents)} SELECT {incident_id}, {at(f'{seconds} + 3600 + i % 7200')},"
        f" CASE WHEN i % 3 = 0 THEN {at(f'{seconds} + 86400 + i % 86400')} END,"
        f" CASE i % 3 WHEN 0 THEN 'citizen' WHEN 1 THEN 'organisation' END,"
        f" CASE i % 2 WHEN 0 THEN 'web-form' END FROM n",
    ]
    total = incidents * tasks_per
    owner = f"'incident--' || {d.hex(f'i / {tasks_per}', 8)} || '-0000-4000-8000-000000000000'"
    statements.append(
        f"INSERT INTO due_items (task_id, incident_id, position, item_key, kind, title, phase,"
        f" owner, parties, role, playbook, level, due, after_key, offset_minutes, state, done_at,"
        f" done_by, note) {d.numbers(total)} SELECT 'task--' || {d.hex('i', 8)}"
        f" || '-0000-4000-8000-000000000000', {owner}, i % {tasks_per},"
        f" 'k' || {t(f'i % {tasks_per}')}, CASE WHEN i % {tasks_per} < 2 THEN 'duty' ELSE 'task'"
        f" END, 'Item', CASE WHEN i % {tasks_per} < 5 THEN 'containment' ELSE 'recovery' END,"
        f" NULL, '', NULL, NULL, NULL, {at(f'((i / {tasks_per}) * 7776000 / {max(incidents, 1)}) + 7200')},"
        f" NULL, 0, CASE WHEN i % 4 = 3 THEN 'open' WHEN i % 11 = 0 THEN 'waived' ELSE 'done' END,"
        f" {at(f'((i / {tasks_per}) * 7776000 / {max(incidents, 1)}) + 3600 + i % 7200')},"
        f" NULL, NULL FROM n"
    )
    return statements


def build(ws: Any, statements: list[str], label: str) -> None:
    start = time.perf_counter()
    with ws.store.transaction():
        for sql in statements:
            ws.store.db.execute(sql)
    ws.store.db.execute("ANALYZE")
    print(f"  built {label} in {time.perf_counter() - start:.1f} s", flush=True)


def search_terms(indicators: int, count: int) -> list[str]:
    pick = random.Random(13)
    terms = []
    for n in range(count):
        i = pick.randrange(indicators)
        kind = n % 6
        if kind == 0:  # an address inside a /24 range (a range indicator i with i % 10 == 4)
            k = (i // 10) if (i // 10) * 10 + 4 < indicators else 0
            base = 2886729728 + (k << 8)
            terms.append(f"{base >> 24}.{base >> 16 & 255}.{base >> 8 & 255}.{pick.randrange(256)}")
        elif kind == 1:
            x = 167772160 + (i - i % 10)
            terms.append(f"10.{x >> 16 & 255}.{x >> 8 & 255}.{x & 255}")
        elif kind == 2:
            terms.append(f"zone{pick.randrange(5000)}.example")
        elif kind == 3:
            j = i - i % 10 + 9 if i - i % 10 + 9 < indicators else 9
            terms.append(format(j * 2654435761, "064x").upper())
        elif kind == 4:
            j = i - i % 10 + 8 if i - i % 10 + 8 < indicators else 8
            terms.append(f"HTTP://SITE{j}.example:80/./p{j}#top")
        else:
            terms.append(f"host{i - i % 10 + 5}")
    return terms


def measure_search(ws: Any, indicators: int, searches: int) -> dict[str, Any]:
    from cirt.search import search

    terms = search_terms(indicators, searches)
    for term in terms[:10]:
        search(ws.context, term)  # warm the caches
    timed, empty = [], 0
    for term in terms:
        start = time.perf_counter()
        result = search(ws.context, term)
        timed.append((time.perf_counter() - start, term))
        empty += not result.hits
    slowest = max(timed)[1]
    times = sorted(t for t, _ in timed)
    p95 = times[max(int(0.95 * len(times)) - 1, 0)]
    start = time.perf_counter()
    ws.store.db.query("SELECT id FROM objects WHERE body LIKE ?", ("%zone4242.example%",))
    scan = time.perf_counter() - start
    return {
        "p50_ms": 1000 * statistics.median(times),
        "p95_ms": 1000 * p95,
        "max_ms": 1000 * times[-1],
        "slowest": slowest,
        "without_hits": empty,
        "scan_s": scan,
        "ratio": scan / p95,
    }


def measure_report(ws: Any, home: Path, runs: int) -> dict[str, Any]:
    from cirt.report import Reporter, parse_period

    env = {**os.environ, "CIRT_HOME": str(home), "CIRT_ANALYST": "bench"}
    env.pop("CIRT_DB_URL", None)
    library = []
    for _ in range(runs):
        start = time.perf_counter()
        built = Reporter(ws.context, ws.sharing).build(parse_period("2026-Q4"))
        library.append(time.perf_counter() - start)
    processes = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "cirt", "report", "--period", "2026-Q4", "--format", "json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        processes.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"cirt report failed: {done.stderr[-500:]}")
    start = time.perf_counter()
    ws.store.db.query("SELECT COUNT(*), MAX(done_at) FROM due_items")
    scan = time.perf_counter() - start
    return {
        "incidents": built.current.incidents,
        "library_s": statistics.median(library),
        "command_s": statistics.median(processes),
        "scan_s": scan,
        "ratio": statistics.median(library) / scan,
    }


def run_engine(
    engine: str, home: Path, url: str | None, options: argparse.Namespace, out: Callable[[str], None]
) -> None:
    from cirt.workspace import Workspace

    out(f"{engine}:")
    with Workspace.init(home, database_url=url) as ws:
        dialect = Dialect(ws.store.db.dialect)
        if options.only in (None, "search"):
            build(ws, indicator_sql(dialect, options.indicators), f"{options.indicators:,} indicators")
            s = measure_search(ws, options.indicators, options.searches)
            out(
                f"  search ({options.searches} terms): p50 {s['p50_ms']:.1f} ms, p95 "
                f"{s['p95_ms']:.1f} ms, max {s['max_ms']:.1f} ms ({s['slowest']}),"
                f" {s['without_hits']} without a"
                f" hit); one substring scan {s['scan_s']:.2f} s = {s['ratio']:.0f}x the p95;"
                f" target p95 <= 50 ms"
            )
        if options.only in (None, "report"):
            build(
                ws,
                incident_sql(dialect, options.incidents, options.tasks_per_incident),
                f"{options.incidents:,} incidents, {options.incidents * options.tasks_per_incident:,} tasks",
            )
            r = measure_report(ws, home, options.runs)
            out(
                f"  report 2026-Q4 over {r['incidents']:,} incidents: Reporter.build "
                f"{r['library_s']:.2f} s, 'cirt report' process {r['command_s']:.2f} s"
                f" (median of {options.runs}); one scan of the tasks {r['scan_s']:.2f} s,"
                f" report = {r['ratio']:.1f}x it; target <= 2 s"
            )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--tasks-per-incident", type=int, default=10)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("search", "report"))
    parser.add_argument("--engine", choices=("sqlite", "postgresql"))
    parser.add_argument("--pg-url", help="a superuser URL of a running server (else one is started)")
    options = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))

    def out(line: str) -> None:
        print(line, flush=True)

    out(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cirt-bench-")))
        if options.engine in (None, "sqlite"):
            run_engine("sqlite", work / "sqlite", None, options, out)
        if options.engine in (None, "postgresql"):
            import psycopg
            from pg import start_server

            admin_url = options.pg_url
            if admin_url is None:
                server = start_server()
                stack.callback(server.stop)
                admin_url = server.admin_url
            name = f"cirt_bench_{os.getpid()}"
            admin = stack.enter_context(psycopg.connect(admin_url, autocommit=True))
            admin.execute(f"CREATE DATABASE {name}")
            stack.callback(admin.execute, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            run_engine(
                "postgresql", work / "postgresql", admin_url.rpartition("/")[0] + f"/{name}", options, out
            )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
