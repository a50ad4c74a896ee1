#!/usr/bin/env bash
# Score applicants with the served model: one probability of default per line.
#   local_test/predict.sh [PAYLOAD [CONTENT_TYPE]]
# Default payload: local_test/payload.csv, five German Credit applicants of the test split
# (no header, no label; text/csv). PORT as for serve_local.sh (default 8080); ACCEPT sets the
# answer's type (default text/csv); REASONS=K adds each applicant's top K adverse-action reasons.
set -euo pipefail
cd "$(dirname "$0")/.."

payload=${1:-local_test/payload.csv}
content_type=${2:-text/csv}
port=${PORT:-8080}
accept=${ACCEPT:-text/csv}
attributes=()
if [ -n "${REASONS:-}" ]; then
    attributes=(-H "X-Amzn-SageMaker-Custom-Attributes: reasons=$REASONS")
fi

curl --silent --show-error --fail-with-body --max-time 60 \
    -H "Content-Type: $content_type" -H "Accept: $accept" "${attributes[@]}" \
    --data-binary "@$payload" "http://127.0.0.1:$port/invocations"
