#!/usr/bin/env bash
# Train in the container on local_test/test_dir, as a SageMaker training job would:
#   local_test/train_local.sh [IMAGE]            (default xgb-container:cpu)
# The job runs in a scratch copy, ML_DIR (default .cache/local_test/ml), never in test_dir
# itself: the model lands in ML_DIR/model, the evaluation in ML_DIR/output/data.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${1:-xgb-container:cpu}
ml=${ML_DIR:-.cache/local_test/ml}
name=${CONTAINER_NAME:-xgb-train-$$}

# Start from a fresh copy; refuse to empty a folder that is not a job folder.
if [ -e "$ml" ] && [ -n "$(ls -A "$ml")" ] && [ ! -d "$ml/input/config" ]; then
    echo "train_local: $ml exists and is not a job folder; set ML_DIR elsewhere" >&2
    exit 2
fi
rm -rf "$ml"
mkdir -p "$(dirname "$ml")"
cp -r local_test/test_dir "$ml"
ml=$(cd "$ml" && pwd)

trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
docker run --rm --name "$name" -v "$ml:/opt/ml" "$image" train
echo "train_local: model in $ml/model, evaluation in $ml/output/data"
