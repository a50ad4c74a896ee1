"""Keep a seeded random sample of a cosmic-ray session's pending mutants; mark the rest skipped.

.venv/bin/python mutation/sample.py /tmp/evaluation.sqlite 200
.venv/bin/python mutation/sample.py /tmp/csv.sqlite 40 --from-line 178   # lines 178 on only
.venv/bin/python mutation/sample.py /tmp/stats.sqlite 40 --from-line 83 --to-line 157
"""

from __future__ import annotations

import argparse
import random

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult


def main(
    path: str, keep: int, first_line: int = 1, last_line: int | None = None, seed: int = 14
) -> None:
    with use_db(path, WorkDB.Mode.open) as db:
        items = sorted(db.pending_work_items, key=lambda item: item.job_id)
        last = last_line or float("inf")
        eligible = [i.job_id for i in items if first_line <= i.mutations[0].start_pos[0] <= last]
        chosen = set(random.Random(seed).sample(eligible, min(keep, len(eligible))))
        for item in items:
            if item.job_id not in chosen:
                db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        where = f"lines {first_line} to {last_line or 'the end'}"
        print(f"kept {len(chosen)} of {len(items)} mutants ({len(eligible)} on {where})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("session")
    parser.add_argument("keep", type=int)
    parser.add_argument("--from-line", type=int, default=1)
    parser.add_argument("--to-line", type=int)
    args = parser.parse_args()
    main(args.session, args.keep, args.from_line, args.to_line)
