#!/usr/bin/env bash
# The main job end to end on the bundled German Credit loan data:
# train on local_test/test_dir (in a scratch copy) and print what training wrote.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r local_test/test_dir "$work/ml"
SAGEMAKER_BASE_DIR="$work/ml" PYTHONPATH=container .venv/bin/python -m xgb_container train
ls -l "$work/ml/model"
for f in "$work"/ml/output/data/evaluation-*.json; do
    [ -e "$f" ] && { echo "== $(basename "$f")"; cat "$f"; }
done
