#!/usr/bin/env bash
# Prepare this machine for the tests and the main job: a Python >= 3.12 virtual
# environment in .venv with the locked dependencies, plus the Debian tools the tests use.
# Idempotent: a second run only checks. Speaks one line per step; the full output of pip and
# apt goes to the log it names (.cache/logs/setup.log), whose end is shown on a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/steps.sh

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

stamp=.venv/.requirements.sha
want=$(sha256sum requirements/dev.txt | cut -d' ' -f1)
# Debian tools used by tests and benchmarks (installed only where missing); mmdebstrap builds
# the local base image where python:3.13-slim cannot be pulled, curl serves local_test/predict.sh,
# docker-registry is the local registry that build_and_push.sh is tested against, chromium draws
# report.html in the evaluation tests.
need=()
for tool in ip:iproute2 wrk:wrk mmdebstrap:mmdebstrap curl:curl docker-registry:docker-registry chromium:chromium nginx:nginx; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ -x .venv/bin/python ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ ${#need[@]} -eq 0 ]; then
    echo "setup: .venv and the Debian tools are up to date"
    exit 0
fi
echo "setup: full output in $STEPS_LOG" >&2

if [ ! -x .venv/bin/python ]; then
    python=$(find_python)
    step "setup: virtual environment .venv ($("$python" --version))" "$python" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    step "setup: pip itself" .venv/bin/python -m pip install --upgrade pip
    step "setup: Python packages of requirements/dev.txt" \
        .venv/bin/python -m pip install -r requirements/dev.txt
    echo "$want" >"$stamp"
fi
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        step "setup: apt-get update" apt-get update
        step "setup: Debian packages ${need[*]}" \
            env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
    else
        echo "setup: missing ${need[*]}; install them (needs root)" >&2
    fi
fi
