"""``tune --local``: random search over the ranges, seeded, one trial after another on Docker."""

from __future__ import annotations

import argparse
import random

from .. import report, specs, values
from ..commands.tune import finish, goal_and_ranges
from ..errors import LaunchError
from .docker import check_image, engine
from .training import run_job


def tune(args: argparse.Namespace) -> int:
    client = engine()
    job = values.check_name(args.job_name or values.unique_name("xgb-tune"), "tuning job name")
    metrics = values.metric_definitions(args.metric_definitions)
    ranges, goal, config = goal_and_ranges(args, metrics)
    if args.checkpoint_s3:
        raise LaunchError("tune: trials would share --checkpoint-s3; leave it out")
    image = check_image(client, args.image)
    rng = random.Random(0 if args.seed is None else args.seed)
    root = (args.local_dir / job).resolve()
    found = []
    for number in range(1, args.max_jobs + 1):
        trial = f"{job}-{number:03d}"
        spec = specs.training_spec(args, trial, image=image, role="local", output=str(root / trial))
        chosen = {r.name: r.sample(rng) for r in ranges}
        spec.hyperparameters = {**spec.hyperparameters, **chosen}
        report.status(trial, "trial", ", ".join(f"{k}={v}" for k, v in chosen.items()))
        description = run_job(client, spec, root / trial)
        final = {m["MetricName"]: m["Value"] for m in description.get("FinalMetricDataList", [])}
        description["Objective"] = final.get(goal["MetricName"])
        description["TunedHyperParameters"] = chosen
        found.append(description)
    request = {"HyperParameterTuningJobConfig": config}
    return finish(job, found, ranges, request, {"HyperParameterTuningJobStatus": "Completed"})
