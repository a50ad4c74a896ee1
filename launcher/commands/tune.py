"""``tune``: a hyperparameter tuning job over the inputs of ``train``; the best job's name."""

from __future__ import annotations

import argparse
from typing import Any

import botocore.exceptions

from .. import options, report, tuning, values
from ..aws import Aws
from ..cli import Command
from ..errors import LaunchError
from ..flow import wait
from .train import prepare


def arguments(parser: argparse.ArgumentParser) -> None:
    options.common(parser)
    options.image_and_role(parser)
    options.training(parser)
    group = parser.add_argument_group("tuning")
    group.add_argument(
        "--range",
        action="append",
        default=[],
        metavar="NAME=MIN:MAX[:log] | NAME=a,b,c",
        help="a tuned hyperparameter (repeatable): integer when both bounds are, else continuous; "
        ":log for a logarithmic scale; comma-separated values are categorical",
    )
    group.add_argument(
        "--objective",
        default="validation:auc",
        help="metric to optimise, one of the image's MetricDefinitions (default: %(default)s)",
    )
    group.add_argument(
        "--objective-type",
        choices=("Maximize", "Minimize"),
        help="default: Maximize for auc, aucpr, ndcg, map, accuracy; else Minimize",
    )
    group.add_argument("--max-jobs", type=int, default=10, help="trials in all (default: 10)")
    group.add_argument("--max-parallel", type=int, default=2, help="trials at once (default: 2)")
    group.add_argument(
        "--strategy",
        choices=tuning.STRATEGIES,
        default="Bayesian",
        help="search (default: Bayesian)",
    )
    group.add_argument("--seed", type=int, help="random seed of the search (--local: default 0)")
    group.add_argument(
        "--warm-start",
        nargs="+",
        action="extend",
        default=[],
        metavar="PARENT",
        help="tuning jobs whose trials this one learns from (TransferLearning)",
    )
    options.security(parser)
    options.no_wait(parser)


def goal_and_ranges(args: argparse.Namespace, metrics: list[dict[str, str]]):  # noqa: ANN201
    ranges = [tuning.parse_range(r) for r in args.range]
    goal = tuning.objective(args.objective, args.objective_type, metrics)
    config = tuning.tuning_config(
        args.strategy, goal, ranges, args.max_jobs, args.max_parallel, args.seed
    )
    return ranges, goal, config


def request(aws: Aws, args: argparse.Namespace, job: str) -> tuple[dict[str, Any], list]:
    """The CreateHyperParameterTuningJob request; every check made before any upload."""
    if len(job) > tuning.MAX_TUNING_NAME:
        raise LaunchError(f"tuning job name {job!r}: at most {tuning.MAX_TUNING_NAME} characters")
    if args.checkpoint_s3:
        raise LaunchError("tune: trials would share --checkpoint-s3; leave it out")
    metrics = values.metric_definitions(args.metric_definitions)
    ranges, goal, config = goal_and_ranges(args, metrics)
    spec = prepare(aws, args, job)
    tuned = {r.name for r in ranges}
    definition = {
        "AlgorithmSpecification": {
            "TrainingImage": spec.image,
            "TrainingInputMode": "File",
            "MetricDefinitions": spec.metrics,
        },
        "StaticHyperParameters": {k: v for k, v in spec.hyperparameters.items() if k not in tuned},
        **spec.job_definition(),
    }
    found: dict[str, Any] = {
        "HyperParameterTuningJobName": job,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": definition,
    }
    for parent in args.warm_start:
        values.check_name(parent, "--warm-start tuning job")
    if args.warm_start:
        found["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": p} for p in args.warm_start
            ],
            "WarmStartType": "TransferLearning",
        }
    return spec.security.tagged(found), ranges


def trials(aws: Aws, job: str, description: dict[str, Any]) -> list[dict[str, Any]]:
    """Every trial with its objective value (the best one alone where listing is refused)."""
    sm = aws.client("sagemaker")
    try:
        pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
        summaries = [
            s for page in pages.paginate(HyperParameterTuningJobName=job)
            for s in page["TrainingJobSummaries"]
        ]  # fmt: skip
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        report.status(job, "cannot list trials", " ".join(str(exc).split())[:200])
        summaries = [description["BestTrainingJob"]] if description.get("BestTrainingJob") else []
    for summary in summaries:
        final = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        summary["Objective"] = final.get("Value")
    return summaries


def remote(aws: Aws, args: argparse.Namespace) -> int:
    job = args.job_name or values.unique_name("xgb-tune")[-tuning.MAX_TUNING_NAME :].lstrip("-")
    values.check_name(job, "tuning job name")
    found, ranges = request(aws, args, job)
    aws.create(f"tuning job {job}", "sagemaker", "create_hyper_parameter_tuning_job", **found)
    if aws.dry_run:
        return 0
    report.status(job, "created", f"{args.max_jobs} trials, {args.max_parallel} at once")
    if args.no_wait:
        print(job)
        return 0
    sm = aws.client("sagemaker")
    description = wait(
        lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=job),
        job,
        "HyperParameterTuningJobStatus",
        args.poll,
    )
    return finish(job, trials(aws, job, description), ranges, found, description)


def finish(job: str, found: list, ranges: list, request: dict, description: dict) -> int:
    goal = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    print(tuning.trials_table(found, [r.name for r in ranges], goal["MetricName"]))
    winner = tuning.best(found, goal["Type"]) or description.get("BestTrainingJob")
    status = description.get("HyperParameterTuningJobStatus", "Completed")
    if status != "Completed" or not winner:
        reason = description.get("FailureReason") or "no trial reported the objective"
        print(f"tuning job {job} {status.lower()}: {reason}", flush=True)
        return 1
    value = winner.get("Objective")
    shown = "" if value is None else f" ({goal['MetricName']} = {value:.6g})"
    print(f"best {winner['TrainingJobName']}{shown}")
    print(winner["TrainingJobName"])
    return 0


def local(args: argparse.Namespace) -> int:
    from ..local import tuning as local_tuning

    return local_tuning.tune(args)


COMMAND = Command(
    name="tune",
    help="hyperparameter tuning job; prints the trials and the best training job's name",
    description="Create a tuning job over the inputs of train (Bayesian by default, early "
    "stopping Auto), follow it, print a table of trials and the best; the last line is the "
    "best training job's name, for deploy --training-job. With --local: random search, one "
    "trial after another on Docker.",
    arguments=arguments,
    remote=remote,
    local=local,
)
