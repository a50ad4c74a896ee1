#!/usr/bin/env bash
# Build the image: local_test/build_image.sh [IMAGE_TAG]   (default xgb-container:VARIANT)
#   VARIANT=cpu|gpu   which lock file (requirements/image-VARIANT.txt) and XGBoost wheel
#   BASE_IMAGE=...    base with Python 3.13; default python:3.13-slim when the engine has it
#                     or can pull it, otherwise a local Debian trixie (local_test/base_image.sh)
# The wheels are downloaded here on the host (cached in .cache/wheels/VARIANT, refreshed when
# the lock file changes) and installed offline by the build, which needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."

variant=${VARIANT:-cpu}
tag=${1:-xgb-container:$variant}
lock=requirements/image-$variant.txt
wheels=.cache/wheels/$variant
say() { echo "build_image: $*" >&2; }
[ -f "$lock" ] || {
    say "no lock file $lock (VARIANT is cpu or gpu)"
    exit 2
}

# A Python 3.13 on the host builds the wheels of source-only packages for the image's cp313.
host_python() {
    local candidate
    for candidate in ${PYTHON:-} .venv/bin/python python3.13 /root/.pyenv/versions/3.13*/bin/python3; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    say "need Python 3.13 on the host to fetch the image's cp313 wheels (scripts/setup.sh)"
    return 1
}

fetch_wheels() {
    local want py tmp platforms=()
    want=$(sha256sum "$lock" | cut -c1-64)
    if [ "$(cat "$wheels/.lock.sha" 2>/dev/null)" = "$want" ]; then
        say "wheels for $lock already in $wheels"
        return 0
    fi
    py=$(host_python)
    tmp=$wheels.part
    rm -rf "$tmp" && mkdir -p "$tmp"
    for p in 2_34 2_28 2_27 2_24 2_17 2014 2_12 2010 2_5 1; do
        case $p in 2_*) platforms+=(--platform "manylinux_${p}_x86_64") ;;
        *) platforms+=(--platform "manylinux${p}_x86_64") ;; esac
    done
    say "downloading the wheels of $lock"
    grep -v '# sdist only' "$lock" >"$tmp/.binary.txt"
    "$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version 3.13 --implementation cp --abi cp313 --abi abi3 --abi none \
        "${platforms[@]}" -d "$tmp" -r "$tmp/.binary.txt"
    # pip itself: the build runs pip from its wheel.
    if ! ls "$tmp"/pip-*.whl >/dev/null 2>&1; then
        "$py" -m pip download -q --disable-pip-version-check --no-deps -d "$tmp" \
            "pip==$("$py" -m pip --version | cut -d' ' -f2)"
    fi
    if grep -q '# sdist only' "$lock"; then
        say "building wheels of source-only packages with $("$py" --version)"
        grep '# sdist only' "$lock" | sed 's/ *#.*//' >"$tmp/.sdist.txt"
        "$py" -m pip wheel -q --disable-pip-version-check --no-deps --no-binary=:all: \
            -w "$tmp" -r "$tmp/.sdist.txt"
    fi
    echo "$want" >"$tmp/.lock.sha"
    rm -rf "$wheels" && mv "$tmp" "$wheels"
}

base=${BASE_IMAGE:-}
if [ -z "$base" ]; then
    if docker image inspect python:3.13-slim >/dev/null 2>&1 ||
        timeout 120 docker pull -q python:3.13-slim >/dev/null 2>&1; then
        base=python:3.13-slim
    else
        say "python:3.13-slim cannot be pulled here: using a local Debian trixie base"
        base=$(local_test/base_image.sh)
    fi
fi

fetch_wheels
say "building $tag (VARIANT=$variant, BASE_IMAGE=$base)"
DOCKER_BUILDKIT=0 docker build -q --force-rm --build-arg "BASE_IMAGE=$base" --build-arg "VARIANT=$variant" \
    -t "$tag" . >&2
docker image inspect -f "build_image: $tag is {{.Size}} bytes" "$tag" >&2
echo "$tag"
