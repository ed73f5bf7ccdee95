"""Run the TAXII application under gunicorn (a production WSGI server), with TLS when asked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cirt.errors import ConfigError, RemoteError
from cirt.taxii.server import DEFAULT_MAX_CONTENT, DEFAULT_MAX_PAGE, TaxiiApp


def build_app(home: Path, *, max_page: int = DEFAULT_MAX_PAGE,
              max_content_length: int = DEFAULT_MAX_CONTENT) -> TaxiiApp:
    """The WSGI app for a workspace; each worker opens its own store after the fork."""
    from cirt.workspace import Workspace

    return TaxiiApp(lambda: Workspace.open(home), max_page=max_page,
                    max_content_length=max_content_length)


def serve(home: Path, *, host: str = "127.0.0.1", port: int = 9800, workers: int = 2,
          cert: str | None = None, key: str | None = None, max_page: int = DEFAULT_MAX_PAGE,
          max_content_length: int = DEFAULT_MAX_CONTENT) -> None:
    """Serve until interrupted."""
    from gunicorn.app.base import BaseApplication

    if bool(cert) != bool(key):
        raise ConfigError("taxii serve", None, "--cert/--key",
                          "give both a certificate and its key")
    for path in (cert, key):
        if path and not Path(path).is_file():
            raise ConfigError("taxii serve", None, path, "no such file")
    app = build_app(home, max_page=max_page, max_content_length=max_content_length)
    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": max(1, workers), "worker_class": "sync", "timeout": 60,
        "accesslog": None, "errorlog": "-", "loglevel": "warning",
        "limit_request_line": 8190, "keepalive": 5,
    }
    if cert and key:
        options.update(certfile=cert, keyfile=key)
    options["when_ready"] = lambda _arbiter: preload()

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> TaxiiApp:
            return app

    _Gunicorn().run()


def preload() -> None:
    """Import and compile what the first request of each kind would otherwise pay for.

    Run by gunicorn in the master once the port is bound and before workers fork, so every
    worker starts with the gate and the STIX validators (compiled from ``stix2``, ~0.2 s) ready
    instead of charging them to the first partner that reads or posts.
    """
    import importlib

    for module in ("cirt.gate", "cirt.sharing", "cirt.ingest"):
        importlib.import_module(module)
    from cirt.stix_validation import schemas

    schemas(False)  # positional, as validate_objects calls it: the same lru_cache entry


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for demos and local partner servers)."""
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextmanager
def background(home: Path, *, host: str = "127.0.0.1", port: int | None = None,
               workers: int = 1, timeout: float = 20.0) -> Iterator[str]:
    """``cirt taxii serve`` for ``home`` in a child process; yields its discovery URL.

    The server is stopped when the block ends, whatever happens in it.
    """
    import socket
    import subprocess
    import sys
    import time

    port = port or free_port(host)
    process = subprocess.Popen(
        [sys.executable, "-m", "cirt", "--home", str(home), "taxii", "serve", "--host", host,
         "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RemoteError(f"the TAXII server for {home} exited with {process.returncode}")
            try:
                socket.create_connection((host, port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RemoteError(f"the TAXII server for {home} did not start in "
                                      f"{timeout:.0f} s") from None
                time.sleep(0.05)
        yield f"http://{host}:{port}/taxii2/"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
