#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set up, lint, then pytest (extra args pass through).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
