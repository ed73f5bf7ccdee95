#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite. Tests start the servers they need
# (SMTP, TAXII, MISP-compatible, PostgreSQL) on 127.0.0.1 and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
