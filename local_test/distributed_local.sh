#!/usr/bin/env bash
# Distributed training in containers, as a SageMaker job with several instances runs it:
#   local_test/distributed_local.sh [IMAGE]       (default xgb-container:cpu)
#   HOSTS=2|3|...                    number of containers algo-1 .. algo-N (default 2)
#   DISTRIBUTION=ShardedByS3Key      each host gets every N-th row of local_test/test_dir's
#                |FullyReplicated    files (default), or every host gets all of them
#   ML_ROOT=.cache/distributed_local one /opt/ml folder per host: ML_ROOT/algo-i
#   XGB_DIST_TIMEOUT=120             seconds before a lost host fails the others
#   CPUS_PER_HOST=1                  docker run --cpus for each container (default: no limit;
#                                    on a small machine 1 keeps the hosts from fighting over cores)
# The containers share a private Docker network (no way out) on which each one is reached
# by its name algo-i; the first host's folder receives the model and the evaluation.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${1:-xgb-container:cpu}
hosts=${HOSTS:-2}
distribution=${DISTRIBUTION:-ShardedByS3Key}
root=${ML_ROOT:-.cache/distributed_local}
timeout_s=${XGB_DIST_TIMEOUT:-120}
prefix=${CONTAINER_PREFIX:-dist-local-$$}
say() { echo "distributed_local: $*" >&2; }

case $distribution in ShardedByS3Key | FullyReplicated) ;; *)
    say "DISTRIBUTION must be ShardedByS3Key or FullyReplicated, not $distribution"
    exit 2
    ;;
esac
case $hosts in '' | *[!0-9]* | 0 | 1)
    say "HOSTS must be a number of at least 2, not ${hosts:-nothing}"
    exit 2
    ;;
esac

names=()
for i in $(seq 1 "$hosts"); do names+=("algo-$i"); done
list=$(printf '"%s", ' "${names[@]}")
list="[${list%, }]"

# One job folder per host; refuse to empty a folder that is not ours.
if [ -e "$root" ] && [ -n "$(ls -A "$root")" ] && [ ! -d "$root/algo-1/input/config" ]; then
    say "$root exists and is not a folder of job folders; set ML_ROOT elsewhere"
    exit 2
fi
rm -rf "$root"
mkdir -p "$root"
root=$(cd "$root" && pwd)
for i in $(seq 1 "$hosts"); do
    ml=$root/algo-$i
    mkdir -p "$ml/input/data"
    cp -r local_test/test_dir/input/config "$ml/input/config"
    printf '{"current_host": "algo-%s", "hosts": %s, "network_interface_name": "eth0"}\n' \
        "$i" "$list" >"$ml/input/config/resourceconfig.json"
    sed -i "s/\"S3DistributionType\": \"[A-Za-z0-9]*\"/\"S3DistributionType\": \"$distribution\"/g" \
        "$ml/input/config/inputdataconfig.json"
    for folder in local_test/test_dir/input/data/*/; do
        channel=$(basename "$folder")
        mkdir -p "$ml/input/data/$channel"
        for file in "$folder"*.csv; do
            if [ "$distribution" = FullyReplicated ]; then
                cp "$file" "$ml/input/data/$channel/"
            else  # the header line, then every N-th row starting at row i
                awk -v n="$hosts" -v i="$i" 'NR == 1 || (NR - 2) % n == i - 1' "$file" \
                    >"$ml/input/data/$channel/$(basename "$file")"
            fi
        done
    done
done

network=$prefix-net
cleanup() {
    for name in "${names[@]}"; do docker rm -f "$prefix-$name" >/dev/null 2>&1 || true; done
    docker network rm "$network" >/dev/null 2>&1 || true
}
trap cleanup EXIT
docker network create --internal "$network" >/dev/null
limits=()
[ -z "${CPUS_PER_HOST:-}" ] || limits=(--cpus "$CPUS_PER_HOST")
for name in "${names[@]}"; do
    docker run -d --name "$prefix-$name" --hostname "$name" --network "$network" \
        --network-alias "$name" -e "XGB_DIST_TIMEOUT=$timeout_s" "${limits[@]}" \
        -v "$root/$name:/opt/ml" "$image" train >/dev/null
done
say "started ${names[*]} on network $network ($distribution)"

status=0
for name in "${names[@]}"; do
    code=$(docker wait "$prefix-$name")
    docker logs "$prefix-$name" 2>&1 | sed "s/^/[$name] /"
    say "$name exited with $code"
    [ "$code" = 0 ] || status=1
done
if [ "$status" = 0 ]; then
    say "model in $root/algo-1/model, evaluation in $root/algo-1/output/data"
else
    for name in "${names[@]}"; do
        [ -f "$root/$name/output/failure" ] && say "$name failed: $(head -n1 "$root/$name/output/failure")"
    done
fi
exit "$status"
