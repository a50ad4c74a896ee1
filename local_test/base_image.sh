#!/usr/bin/env bash
# Make sure a local base image exists for engines that cannot pull python:3.13-slim, and print
# its name: a minimal Debian trixie (Python 3.13) built with mmdebstrap and `docker import`ed.
# The image is cached as .cache/base/NAME.tar.gz, keyed by what goes into it, so a second
# build (or CI on the same machine) loads it in seconds instead of bootstrapping again.
set -euo pipefail
cd "$(dirname "$0")/.."

suite=trixie
packages=python3,ca-certificates,nginx
# Docs, man pages and translations are left out; licence files stay.
dpkg_opts=(
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/locale/*'
)
key=$(printf '%s\n' "$suite" "$packages" "${dpkg_opts[*]}" | sha256sum | cut -c1-12)
name=xgb-container-base:$suite-$key
cache=.cache/base/${name//:/_}.tar.gz

say() { echo "base_image: $*" >&2; }

# The Debian mirror this machine already uses (the only one it may reach).
mirror() {
    local uri
    uri=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
        /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '{print $2}' | head -n1)
    echo "${DEBIAN_MIRROR:-${uri:-http://deb.debian.org/debian}}"
}

if docker image inspect "$name" >/dev/null 2>&1; then
    echo "$name"
    exit 0
fi
if [ -s "$cache" ]; then
    say "loading $name from $cache"
    docker load -q <"$cache" >&2
    echo "$name"
    exit 0
fi

command -v mmdebstrap >/dev/null || {
    say "mmdebstrap is missing (scripts/setup.sh installs it)"
    exit 1
}
say "bootstrapping Debian $suite with $packages from $(mirror) (about a minute)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# env -i: the host's pip and proxy settings must not leak into the new root file system.
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin mmdebstrap --quiet --mode=root --variant=minbase \
    --include="$packages" "${dpkg_opts[@]}" "$suite" "$tmp/rootfs.tar" "$(mirror)" >&2
docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' \
    -m "Debian $suite minbase + $packages (local_test/base_image.sh)" \
    "$tmp/rootfs.tar" "$name" >&2
mkdir -p "$(dirname "$cache")"
docker save "$name" | gzip -1 >"$cache.part"
mv "$cache.part" "$cache"
say "built $name, cached in $cache"
echo "$name"
