"""``cirt intake serve``: the reporting form under gunicorn, with TLS when asked."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cirt.errors import ConfigError


def serve(home: Path, *, host: str = "127.0.0.1", port: int = 8443, workers: int = 2,
          cert: str | None = None, key: str | None = None) -> None:
    """Serve until interrupted; the CSRF key is made before the workers fork, so all share it."""
    from gunicorn.app.base import BaseApplication

    from cirt.intake.web import IntakeApp, build_app
    from cirt.workspace import Workspace

    if bool(cert) != bool(key):
        raise ConfigError("intake serve", None, "--cert/--key", "give both a certificate and its key")
    for path in (cert, key):
        if path and not Path(path).is_file():
            raise ConfigError("intake serve", None, path, "no such file")
    with Workspace.open(home) as ws:
        ws.intake.secret_key()
    app = build_app(home)
    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": max(1, workers), "worker_class": "sync", "timeout": 30,
        "accesslog": None, "errorlog": "-", "loglevel": "warning",
        "limit_request_line": 4094, "limit_request_fields": 50, "keepalive": 5,
    }
    if cert and key:
        options.update(certfile=cert, keyfile=key)

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> IntakeApp:
            return app

    _Gunicorn().run()


@contextmanager
def background(home: Path, *, host: str = "127.0.0.1", workers: int = 1,
               cert: str | None = None, key: str | None = None,
               timeout: float = 20.0) -> Iterator[str]:
    """``cirt intake serve`` for ``home`` in a child process; yields the form's base URL.

    For the demo, tests and the benchmark; the server is stopped when the block ends.
    """
    import socket
    import subprocess
    import sys
    import time

    from cirt.errors import RemoteError
    from cirt.taxii.serving import free_port

    port = free_port(host)
    tls = ["--cert", cert, "--key", key] if cert and key else []
    process = subprocess.Popen(
        [sys.executable, "-m", "cirt", "--home", str(home), "intake", "serve", "--host", host,
         "--port", str(port), "--workers", str(workers), *tls],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RemoteError(f"the reporting form for {home} exited with {process.returncode}")
            try:
                socket.create_connection((host, port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RemoteError(f"the reporting form for {home} did not start in "
                                      f"{timeout:.0f} s") from None
                time.sleep(0.05)
        yield f"{'https' if tls else 'http'}://{host}:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
