"""Our own servers started in a child process for ``cirt demo`` (and the tests and benchmarks):
``cirt taxii serve`` and ``cirt intake serve`` on a free loopback port, stopped when the block
ends.  The product modules (cirt/servers/taxii_serving.py, cirt/servers/intake_serving.py) only serve."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cirt.errors import RemoteError


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for demos and local partner servers)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def taxii_server(
    home: Path, *, host: str = "127.0.0.1", port: int | None = None, workers: int = 1, timeout: float = 20.0
) -> Iterator[str]:
    """``cirt taxii serve`` for ``home`` in a child process; yields its discovery URL."""
    port = port or free_port(host)
    with _child(
        ["taxii", "serve", "--host", host, "--port", str(port), "--workers", str(workers)],
        home,
        host,
        port,
        f"the TAXII server for {home}",
        timeout,
    ):
        yield f"http://{host}:{port}/taxii2/"


@contextmanager
def intake_form(
    home: Path,
    *,
    host: str = "127.0.0.1",
    workers: int = 1,
    cert: str | None = None,
    key: str | None = None,
    timeout: float = 20.0,
) -> Iterator[str]:
    """``cirt intake serve`` for ``home`` in a child process; yields the form's base URL."""
    port = free_port(host)
    tls = ["--cert", cert, "--key", key] if cert and key else []
    with _child(
        ["intake", "serve", "--host", host, "--port", str(port), "--workers", str(workers), *tls],
        home,
        host,
        port,
        f"the reporting form for {home}",
        timeout,
    ):
        yield f"{'https' if tls else 'http'}://{host}:{port}"


@contextmanager
def _child(command: list[str], home: Path, host: str, port: int, what: str, timeout: float) -> Iterator[None]:
    """Run ``cirt --home home <command>`` until its port answers; stop it whatever happens."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cirt", "--home", str(home), *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RemoteError(f"{what} exited with {process.returncode}")
            try:
                socket.create_connection((host, port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RemoteError(f"{what} did not start in {timeout:.0f} s") from None
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
