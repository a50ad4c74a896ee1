#!/usr/bin/env bash
# Monitoring end to end on the local endpoint that serve_local.sh runs with CAPTURE_DIR set:
#   local_test/monitor_demo.sh IMAGE CAPTURE_DIR MODEL_DIR
# Sends the German Credit validation and test applicants as they are, then the same
# applicants 25 years older asking three times the credit, through the endpoint (PORT,
# default 8080); then runs the image's monitor over the capture folder
# (sagemaker_launch.py monitor --local) and prints its violations.
set -euo pipefail
cd "$(dirname "$0")/.."

image=$1 capture=$2 model=$3
port=${PORT:-8080}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

.venv/bin/python - "$work" <<'PY'
import sys
from pathlib import Path

import pandas as pd

work = Path(sys.argv[1])
data = Path("local_test/test_dir/input/data")
rows = pd.concat(
    [pd.read_csv(data / c / f"german_credit_{c}.csv") for c in ("validation", "test")]
).drop(columns=["creditability"])
shifted = rows.assign(age_in_years=rows["age_in_years"] + 25, credit_amount=rows["credit_amount"] * 3)
for name, frame in (("normal", rows), ("shifted", shifted)):
    for i in range(0, len(frame), 10):
        frame.iloc[i : i + 10].to_csv(work / f"{name}-{i:04d}.csv", header=False, index=False)
PY
for kind in normal shifted; do
    count=0
    for f in "$work"/"$kind"-*.csv; do
        curl --silent --show-error --fail --max-time 60 -o /dev/null \
            -H "Content-Type: text/csv" --data-binary "@$f" "http://127.0.0.1:$port/invocations"
        count=$((count + 1))
    done
    echo "monitor_demo: sent $count requests of $kind applicants"
done
.venv/bin/python sagemaker_launch.py monitor --local --image "$image" --capture "$capture" \
    --model-data "$model" --output "$capture-report" --local-dir "$work/jobs"
