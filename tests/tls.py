"""A certificate for servers the tests start on 127.0.0.1 over TLS (SMTP, IMAP, TAXII, the
reporting form), made by OpenSSL as an operator would make one."""

from __future__ import annotations

import subprocess
from pathlib import Path


def loopback_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, valid one day: ``(cert.pem, key.pem)``."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
