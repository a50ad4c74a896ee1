"""Bare XGBoost under a container memory limit: can ``ExtMemQuantileDMatrix`` be built?

The reproduction behind the over-memory container test (docs/streaming.md): XGBoost alone,
no project code, builds an ``ExtMemQuantileDMatrix`` of 855,000 x 100 random values (the
test's shape) from batches of 5,700 rows, and prints its resident memory at each pass.

    python benchmarks/extmem_limit.py --image xgb-container:test [max_bin ...]
        runs itself in the image under ``docker run --memory=200m`` once per max_bin
        (default 256 and 128) and prints each exit code (137: killed for memory);
    python benchmarks/extmem_limit.py --build MAX_BIN   what runs inside.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROWS, COLS, BATCH = 855_000, 100, 5_700
LIMIT = "200m"


def anon_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) // 1024
    return 0


def build(max_bin: int) -> None:
    import numpy as np
    import xgboost as xgb

    class Batches(xgb.DataIter):
        def __init__(self, prefix: str) -> None:
            self.i, self.passes = 0, 0
            super().__init__(cache_prefix=prefix, release_data=True)

        def next(self, input_data) -> bool:
            if self.i * BATCH >= ROWS:
                return False
            n = min(BATCH, ROWS - self.i * BATCH)
            rng = np.random.default_rng(self.i)
            X = (rng.integers(-9999, 10000, size=(n, COLS)) / 1000).astype(np.float32)
            input_data(data=X, label=(X[:, 0] > X[:, 1]).astype(np.float32))
            self.i += 1
            return True

        def reset(self) -> None:
            print(f"pass {self.passes} done: {anon_mb()} MB anonymous resident", flush=True)
            self.i, self.passes = 0, self.passes + 1

    print(f"imports: {anon_mb()} MB anonymous resident", flush=True)
    with tempfile.TemporaryDirectory(dir=os.environ.get("CACHE_DIR")) as folder:
        xgb.ExtMemQuantileDMatrix(Batches(f"{folder}/cache"), max_bin=max_bin, nthread=2)
    print(f"built with max_bin={max_bin}", flush=True)


def in_docker(image: str, max_bins: list[int]) -> None:
    here = Path(__file__).resolve().parent
    for max_bin in max_bins:
        with tempfile.TemporaryDirectory() as cache:  # on the host's disk, as a job's volume
            done = subprocess.run(
                ["docker", "run", "--rm", f"--memory={LIMIT}", f"--memory-swap={LIMIT}",
                 "--cpus=2", "-v", f"{here}:/bench:ro", "-v", f"{cache}:/cache",
                 "-e", "CACHE_DIR=/cache", "--entrypoint", "python", image,
                 "/bench/extmem_limit.py", "--build", str(max_bin)],
                capture_output=True, text=True, timeout=1800,
            )  # fmt: skip
        print(f"--- max_bin={max_bin} under --memory={LIMIT}: exit {done.returncode}")
        print((done.stdout + done.stderr).strip()[-1500:])


if __name__ == "__main__":
    if sys.argv[1:2] == ["--build"]:
        build(int(sys.argv[2]))
    elif sys.argv[1:2] == ["--image"] and len(sys.argv) > 2:
        in_docker(sys.argv[2], [int(v) for v in sys.argv[3:]] or [256, 128])
    else:
        sys.exit(__doc__)
