#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set up, lint, build the image where a Docker engine
# answers (once, before pytest, so that no test's time limit includes it), then pytest (extra
# args pass through). Set-up and build speak a line per step; their output is in the log named.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
.venv/bin/ruff check .
if [ -z "${XGB_IMAGE:-}" ] && timeout 180 docker version >/dev/null 2>&1; then
    source scripts/steps.sh
    echo "image: full output in $STEPS_LOG"
    step "image: local_test/build_image.sh xgb-container:test" \
        sh -c 'local_test/build_image.sh xgb-container:test >"$0"' "$STEPS_LOG.tag"
    XGB_IMAGE=$(tail -n 1 "$STEPS_LOG.tag")
    export XGB_IMAGE
fi
exec .venv/bin/python -m pytest "$@"
