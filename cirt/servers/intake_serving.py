"""``cirt intake serve``: the reporting form under gunicorn, with TLS when asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from cirt.errors import ConfigError
from cirt.servers.intake_form import IntakeApp, build_app
from cirt.workspace import Workspace


def serve(
    home: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8443,
    workers: int = 2,
    cert: str | None = None,
    key: str | None = None,
) -> None:
    """Serve until interrupted; the CSRF key is made before the workers fork, so all share it."""
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
        "workers": max(1, workers),
        "worker_class": "sync",
        "timeout": 30,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "keepalive": 5,
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
