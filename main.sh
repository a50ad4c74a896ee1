#!/usr/bin/env bash
# The main job end to end, in the container, on the bundled German Credit loan data:
# build the image (and a local base image where python:3.13-slim cannot be pulled), train on a
# scratch copy of local_test/test_dir, serve on port 8080 (or a free port when 8080 is taken),
# score a few applicants with curl, print the evaluation, and stop the server cleanly.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh

image=$(local_test/build_image.sh)
work=$(mktemp -d)
serve_name=xgb-main-serve-$$
cleanup() {
    docker rm -f "$serve_name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
export ML_DIR=$work/ml

echo "== training in $image"
CONTAINER_NAME=xgb-main-train-$$ local_test/train_local.sh "$image"

# Port 8080 as SageMaker users expect, unless something already listens there.
port=$(.venv/bin/python - <<'PY'
import socket

with socket.socket() as s:
    try:
        s.bind(("127.0.0.1", 8080))
    except OSError:
        s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
PY
)
echo "== serving on 127.0.0.1:$port"
mkdir -p "$work/capture"
CAPTURE_DIR=$work/capture PORT=$port CONTAINER_NAME=$serve_name local_test/serve_local.sh "$image" >"$work/serve.log" 2>&1 &
server=$!
started=$EPOCHREALTIME
deadline=$((SECONDS + 240)) # SageMaker's own limit for the first healthy /ping
until curl -sf -o /dev/null "http://127.0.0.1:$port/ping"; do
    if ! kill -0 "$server" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
        echo "main: the server did not become healthy; its log:" >&2
        cat "$work/serve.log" >&2
        exit 1
    fi
    sleep 0.2
done
awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "== healthy after %.1f s\n", b - a }'

echo "== probability of default for local_test/payload.csv (2 good, 3 bad applicants)"
PORT=$port local_test/predict.sh

echo "== the same applicants with their top three adverse-action reasons (SHAP, log-odds)"
REASONS=3 ACCEPT=application/jsonlines PORT=$port local_test/predict.sh

echo "== evaluation (all of it: .cache/main/evaluation-*.json)"
.venv/bin/python - "$ML_DIR"/output/data/evaluation-*.json <<'PY'
import json, sys

for path in sys.argv[1:]:
    r = json.load(open(path))
    print(f"{r['rows']} {path.rsplit('-', 1)[1][:-5]} rows: KS {r['ks']['statistic']:.3f} "
          f"(at score {r['ks']['score']:.3f}), Gini {r['gini']:.3f}, ROC AUC {r['roc_auc']:.3f}, "
          f"Brier {r['brier']:.3f}, score PSI {r['score_psi']['value']:.3f}")
PY
mkdir -p .cache/main
cp -r "$ML_DIR/output/data/." .cache/main/
echo "== model review report: $PWD/.cache/main/report.html"

echo "== monitoring: normal, then shifted applicants through the endpoint (capture on)"
PORT=$port local_test/monitor_demo.sh "$image" "$work/capture" "$ML_DIR/model"

docker stop -t 30 "$serve_name" >/dev/null
status=0
wait "$server" || status=$?
echo "== server stopped (exit $status)"
exit "$status"
