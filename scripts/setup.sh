#!/usr/bin/env bash
# Prepare this machine for the tests and the main job: a Python >= 3.12 virtual
# environment in .venv with the locked dependencies, plus the Debian tools the tests use.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
    for candidate in python3.13 python3.12 /root/.pyenv/versions/3.13*/bin/python3 \
        /root/.pyenv/versions/3.12*/bin/python3 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "setup: need Python >= 3.12 (XGBoost 3.3+ requires it); none found" >&2
    return 1
}

if [ ! -x .venv/bin/python ]; then
    "$(find_python)" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements/dev.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -r requirements/dev.txt
    echo "$want" >"$stamp"
fi

# Debian tools used by tests and benchmarks (installed only where missing); mmdebstrap builds
# the local base image where python:3.13-slim cannot be pulled, curl serves local_test/predict.sh,
# docker-registry is the local registry that build_and_push.sh is tested against, chromium draws
# report.html in the evaluation tests.
need=()
for tool in ip:iproute2 wrk:wrk mmdebstrap:mmdebstrap curl:curl docker-registry:docker-registry chromium:chromium nginx:nginx; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    else
        echo "setup: missing ${need[*]}; install them (needs root)" >&2
    fi
fi
