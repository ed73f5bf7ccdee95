#!/usr/bin/env bash
# Set up (if needed) and run the guided scenario on the embedded SQLite default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/cirt demo "$@"
