#!/usr/bin/env bash
# Serve the model that train_local.sh wrote, in the container, as a SageMaker endpoint would:
#   local_test/serve_local.sh [IMAGE]            (default xgb-container:cpu)
# Listens on 127.0.0.1:PORT (default 8080). Stop it with Ctrl-C or `docker stop NAME`
# (NAME: CONTAINER_NAME, default xgb-serve-PID); the container is removed either way.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${1:-xgb-container:cpu}
ml=${ML_DIR:-.cache/local_test/ml}
port=${PORT:-8080}
name=${CONTAINER_NAME:-xgb-serve-$$}

if [ ! -s "$ml/model/xgboost-model" ]; then
    echo "serve_local: no model in $ml/model; run local_test/train_local.sh first" >&2
    exit 1
fi
model=$(cd "$ml/model" && pwd)

trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
echo "serve_local: $name on http://127.0.0.1:$port (model $model)" >&2
# CAPTURE_DIR: the server writes SageMaker's capture format there itself (XGB_CAPTURE_DIR).
capture=()
[ -n "${CAPTURE_DIR:-}" ] && capture=(-e XGB_CAPTURE_DIR=/opt/ml/capture -v "$CAPTURE_DIR:/opt/ml/capture")
docker run --rm --name "$name" -p "127.0.0.1:$port:8080" -v "$model:/opt/ml/model:ro" \
    "${capture[@]}" "$image" serve
