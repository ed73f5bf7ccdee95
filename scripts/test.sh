#!/usr/bin/env bash
# Set up (if needed), check the code (ruff lint and format, mypy, the import-linter contracts) and run the
# whole test suite. Tests start the servers they need (SMTP, TAXII, MISP-compatible, PostgreSQL)
# on 127.0.0.1 and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
