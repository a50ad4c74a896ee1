"""What adverse-action reasons cost per row at the endpoint, measured in process.

    .venv/bin/python benchmarks/reasons_benchmark.py [--repeat 30]

Model: the bundled German Credit job (binary:logistic, depth 3, 20 features, 13 categorical),
trained here into a scratch folder. For batches of 1, 10, 100 and 1000 rows (the test split's
rows repeated) it times, on one thread as a serving worker runs: predictions alone; predictions
with reasons=3 (SHAP values by ``Booster.predict(pred_contribs=True)`` and the top three
chosen); the JSON answer of each. Printed as a Markdown table: microseconds per row (median of
``--repeat`` runs) and the cost reasons add.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "container"))
from xgb_container import formats, reasons  # noqa: E402
from xgb_container.predictor import Model  # noqa: E402

TEST_ROWS = ROOT / "local_test" / "test_dir" / "input" / "data" / "test" / "german_credit_test.csv"


def train(folder: Path) -> Path:
    base = folder / "ml"
    shutil.copytree(ROOT / "local_test" / "test_dir", base)
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(base), "PYTHONPATH": str(ROOT / "container")}
    subprocess.run(
        [sys.executable, "-m", "xgb_container", "train"], env=env, check=True, capture_output=True
    )
    return base / "model"


def median_us(work, rows: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / rows * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        model = Model.load(train(Path(folder)))
    schema = formats.Schema.from_metadata(model.meta)
    base = formats.decode(TEST_ROWS.read_bytes(), "text/csv", schema)
    fields = ("probability",)
    print("| rows | predict (µs/row) | predict + reasons=3 (µs/row) | reasons add (µs/row) |")
    print("|---:|---:|---:|---:|")
    for rows in (1, 10, 100, 1000):
        X = np.ascontiguousarray(np.resize(base, (rows, base.shape[1])))

        def plain(X=X):
            out = model.predict(X, fields)
            return formats.encode(out, fields, len(X), formats.JSON)

        def with_reasons(X=X):
            out, names = reasons.attach(model, schema, X, model.predict(X, fields), fields, 3)
            return formats.encode(out, names, len(X), formats.JSON)

        a = median_us(plain, rows, args.repeat)
        b = median_us(with_reasons, rows, args.repeat)
        print(f"| {rows} | {a:.1f} | {b:.1f} | {b - a:.1f} |")


if __name__ == "__main__":
    main()
