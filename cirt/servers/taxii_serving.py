"""Run the TAXII application (``cirt.servers.taxii``) under gunicorn (a production WSGI
server), with TLS when asked."""

from __future__ import annotations

import importlib
import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.workers import gthread

from cirt.errors import ConfigError
from cirt.stix_validation import schemas
from cirt.taxii.query import DEFAULT_MAX_CONTENT, DEFAULT_MAX_PAGE, TAXII_MEDIA, error_body
from cirt.workspace import Workspace

if TYPE_CHECKING:
    from cirt.servers.taxii import TaxiiApp


def build_app(
    home: Path, *, max_page: int = DEFAULT_MAX_PAGE, max_content_length: int = DEFAULT_MAX_CONTENT
) -> TaxiiApp:
    """The WSGI app for a workspace; each serving thread opens its own store after the fork."""
    # Start-up: loaded once the options and the workspace passed their checks, so a refused
    # start costs no gate, validators or ingest (``preload`` loads them before the fork).
    from cirt.servers.taxii import TaxiiApp

    return TaxiiApp(lambda: Workspace.open(home), max_page=max_page, max_content_length=max_content_length)


# Each read from a client waits at most this long: an idle socket, a stalled header or a body
# shorter than its Content-Length gives its thread back instead of holding it.
DEFAULT_READ_TIMEOUT_S = 10.0
DEFAULT_THREADS = 4  # per worker: requests served at once, each thread its own connection


def serve(
    home: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 9800,
    workers: int = 2,
    threads: int = DEFAULT_THREADS,
    cert: str | None = None,
    key: str | None = None,
    insecure_http: bool = False,
    read_timeout: float = DEFAULT_READ_TIMEOUT_S,
    max_page: int = DEFAULT_MAX_PAGE,
    max_content_length: int = DEFAULT_MAX_CONTENT,
    announce: Callable[[], None] | None = None,
) -> None:
    """Serve until interrupted; refuse to start on a configuration that could only fail.

    ``announce`` is called once the checks passed, before the port is bound.
    """
    check_options(
        host=host,
        cert=cert,
        key=key,
        insecure_http=insecure_http,
        read_timeout=read_timeout,
        workers=workers,
        threads=threads,
    )
    preflight(home)
    if announce is not None:
        announce()
    app = build_app(home, max_page=max_page, max_content_length=max_content_length)
    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": bounded_worker_class(read_timeout),
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "limit_request_line": 8190,
        "keepalive": 5,
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


def check_options(
    *,
    host: str,
    cert: str | None,
    key: str | None,
    insecure_http: bool,
    read_timeout: float,
    workers: int,
    threads: int,
) -> None:
    """Credentials travel in every request: plain HTTP only on this machine, unless told."""
    if bool(cert) != bool(key):
        raise ConfigError("taxii serve", None, "--cert/--key", "give both a certificate and its key")
    for path in (cert, key):
        if path and not Path(path).is_file():
            raise ConfigError("taxii serve", None, path, "no such file")
    if not cert and not insecure_http and not is_loopback(host):
        raise ConfigError(
            "taxii serve",
            None,
            "--host",
            f"{host} is reachable from other machines and partners' passwords "
            "would cross the network in clear: give --cert and --key (or "
            "--insecure-http behind a TLS proxy)",
        )
    if read_timeout <= 0 or workers < 1 or threads < 1:
        raise ConfigError("taxii serve", None, "--read-timeout/--workers/--threads", "must be positive")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def preflight(home: Path) -> None:
    """Open the workspace as a worker will (config.toml, sectors.yaml, the database) and close
    it: a broken file or an unreachable database stops the start with one line, instead of a
    server answering 500 to every request."""
    with Workspace.open(home) as ws:
        ws.community.national  # noqa: B018  (loads and validates sectors.yaml)
        ws.store.schema_version()


def bounded_worker_class(read_timeout: float) -> type:
    """gunicorn's threaded worker, with two changes made in each worker process only.

    A new connection takes a thread only once it has sent something (gunicorn would let each
    one wait for its first bytes in a thread, so a few idle sockets stall every thread); every
    read from a client then waits at most ``read_timeout`` (gunicorn reads without a timeout: a
    client that stops mid-header or mid-body would hold its thread for as long as it likes); and
    the errors gunicorn answers itself (a malformed request line, headers too large) are TAXII
    error messages, not HTML.
    """

    class BoundedConnection(gthread.TConn):
        def wait_for_data(self, timeout: float) -> bool:
            return bool(super().wait_for_data(0))  # nothing yet: back to the poller, no thread

        def init(self) -> None:
            super().init()  # sets the socket blocking (and wraps it for TLS) on each request
            self.sock.settimeout(read_timeout)

    class BoundedThreadWorker(gthread.ThreadWorker):
        def init_process(self) -> None:
            gthread.TConn = BoundedConnection
            util.write_error = _write_taxii_error
            super().init_process()

    return BoundedThreadWorker


def _write_taxii_error(sock: Any, status: int, reason: str, message: str) -> None:
    body = error_body(status, reason, message)
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: {TAXII_MEDIA}"
        f"\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def preload() -> None:
    """Import and compile what the first request of each kind would otherwise pay for.

    Run by gunicorn in the master once the port is bound and before workers fork, so every
    worker starts with the gate and the STIX validators (compiled from ``stix2``, ~0.2 s) ready
    instead of charging them to the first partner that reads or posts.
    """
    for module in ("cirt.gate", "cirt.sharing", "cirt.ingest"):
        importlib.import_module(module)
    schemas(False)  # positional, as validate_objects calls it: the same lru_cache entry
