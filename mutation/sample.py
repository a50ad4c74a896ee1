"""Keep a seeded random sample of a cosmic-ray session's pending mutants; mark the rest skipped.

    .venv/bin/python mutation/sample.py /tmp/evaluation.sqlite 200
"""

from __future__ import annotations

import random
import sys

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult


def main(path: str, keep: int, seed: int = 14) -> None:
    with use_db(path, WorkDB.Mode.open) as db:
        pending = sorted(item.job_id for item in db.pending_work_items)
        chosen = set(random.Random(seed).sample(pending, min(keep, len(pending))))
        for job_id in pending:
            if job_id not in chosen:
                db.set_result(job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        print(f"kept {len(chosen)} of {len(pending)} mutants")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
