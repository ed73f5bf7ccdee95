"""How fast the reporting form answers with 20 citizens submitting at once.

Run on demand: ``python benchmarks/intake_form.py [SUBMITTERS] [REPORTS_EACH] [WORKERS] [THINK_S]``
(default 20 submitters, 15 reports each, 2 gunicorn workers, SQLite, 1 s between a submitter's
reports).  Each submitter opens the form (GET /, which sets the CSRF cookie) and posts reports, one
in five with a small picture, following no redirect, then pauses THINK_S seconds (0.5 to 1.5 times
it, at random: people do not submit in lock-step).  THINK_S 0 is a closed loop: every submitter
posts again the moment it is answered, which measures throughput and queueing, not a citizen's
wait.  Latency per request on the client side; the target is p95 ≤ 50 ms for the posts.  The
peer is the same server answering the static stylesheet (no workspace, no template), measured in
the same run under the same load: the ratio says what a report costs above the server's floor.
The workspace's rate limit is raised for the run (all submitters share 127.0.0.1).
"""

from __future__ import annotations

import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from cirt.demos.servers import intake_form
from cirt.workspace import Workspace

PNG = b"\x89PNG\r\n\x1a\n" + bytes(2000)
TARGET_MS = 50.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def submitter(
    url: str,
    n: int,
    think: float,
    posts: list[float],
    with_file: list[float],
    statics: list[float],
    errors: list[str],
) -> None:
    pause = random.Random(id(posts) ^ threading.get_ident())
    session = requests.Session()
    page = session.get(url + "/", timeout=10)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    if not token:
        errors.append("no CSRF token on the form")
        return
    if think:
        time.sleep(think * pause.uniform(0, 1))  # citizens do not all press "send" at once
    for i in range(n):
        files = {"files": ("sms.png", PNG, "image/png")} if pause.random() < 0.2 else None
        data = {
            "csrf": token[1],
            "category": "phishing",
            "occurred": "today",
            "what": f"An SMS asked me to log in at hxxps://bank-{i}[.]example/verify",
        }
        started = time.perf_counter()
        answer = session.post(
            url + "/report?lang=en", data=data, files=files, timeout=10, allow_redirects=False
        )
        (with_file if files else posts).append((time.perf_counter() - started) * 1000)
        if answer.status_code != 303:
            errors.append(f"post answered {answer.status_code}")
        started = time.perf_counter()
        session.get(url + "/static/intake.css", timeout=10)
        statics.append((time.perf_counter() - started) * 1000)
        if think:
            time.sleep(think * pause.uniform(0.5, 1.5))


def main() -> None:
    submitters = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    each = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    think = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "ws"
        Workspace.init(home).close()
        with (home / "config.toml").open("a", encoding="utf-8") as config:
            config.write("\n[intake]\nrate_limit = 1000000\n")
        print(
            f"load average {os.getloadavg()[0]:.2f}; {submitters} submitters x {each} reports, "
            f"{workers} gunicorn workers, SQLite, {think:g} s between reports"
        )
        with intake_form(home, workers=workers) as url:
            requests.get(url + "/", timeout=10)  # each worker warms on its first request
            posts: list[float] = []
            with_file: list[float] = []
            statics: list[float] = []
            errors: list[str] = []
            threads = [
                threading.Thread(target=submitter, args=(url, each, think, posts, with_file, statics, errors))
                for _ in range(submitters)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
        with Workspace.open(home) as ws:
            stored = len(ws.intake.list())
    if errors:
        print(f"errors: {len(errors)} (first: {errors[0]})")
    every = posts + with_file
    p95, p50 = percentile(every, 95), statistics.median(every)
    s95 = percentile(statics, 95)
    print(
        f"reports stored: {stored} of {len(every)} posted in {wall:.1f} s "
        f"({len(every) / wall:,.0f} reports/s)"
    )
    print(
        f"POST /report: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(every):.1f} ms; "
        f"text only p95 {percentile(posts, 95):.1f} ms, with a picture p95 "
        f"{percentile(with_file, 95):.1f} ms"
    )
    print(f"GET stylesheet (peer): p95 {s95:.1f} ms; ratio p95 {p95 / s95:.1f}x")
    print(f"target p95 <= {TARGET_MS:.0f} ms: {'met' if p95 <= TARGET_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
