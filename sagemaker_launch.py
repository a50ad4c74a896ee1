#!/usr/bin/env python3
"""Train, deploy, invoke, batch-score and clean up the XGBoost image on Amazon SageMaker.

Every AWS call goes through boto3, which honours AWS_ENDPOINT_URL, so the whole tool runs
against an emulator too. With --local, train, deploy, invoke, batch and cleanup run the same
image on the local Docker engine instead, with /opt/ml laid out as SageMaker lays it out.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from launcher.errors import LaunchError

EXAMPLES = """examples:
  %(prog)s train --image xgb-container:latest --role SageMakerRole \\
      --train data/train --validation data/validation --hp num_round=200 --instance-count 2 \\
      --distribution ShardedByS3Key --spot --max-wait 7200 --checkpoint-s3 s3://bucket/ckpt
  %(prog)s deploy --image xgb-container:latest --role SageMakerRole --training-job JOB --name credit
  %(prog)s invoke --endpoint credit --input applicants.csv
  %(prog)s batch --model credit --input s3://bucket/applicants/ --content-type text/csv
  %(prog)s cleanup --endpoint credit
  %(prog)s train --local --image xgb-container:latest --train local_test/test_dir/input/data/train \\
      --hyperparameters local_test/test_dir/input/config/hyperparameters.json
"""


def common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region",
        help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the AWS CLI configuration)",
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="run on the local Docker engine instead of SageMaker (no AWS account needed)",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds between status checks while waiting (default: 30)",
    )
    parser.add_argument(
        "--bucket",
        help="S3 bucket for uploads, outputs and captures (default: sagemaker-REGION-ACCOUNT, "
        "created when missing)",
    )
    parser.add_argument(
        "--prefix",
        default="xgb-container",
        help="S3 key prefix under the bucket (default: %(default)s)",
    )
    parser.add_argument(
        "--local-dir",
        type=Path,
        default=Path("local-jobs"),
        help="with --local: folder for job folders, models and outputs (default: %(default)s)",
    )


def image_and_role(parser: argparse.ArgumentParser, required_image: bool = True) -> None:
    parser.add_argument(
        "--image",
        required=required_image,
        help="image: an ECR URI, or NAME[:TAG] for this account's ECR repository in the region "
        "(with --local: a local image tag)",
    )
    parser.add_argument(
        "--role",
        default=os.environ.get("SAGEMAKER_ROLE"),
        help="SageMaker execution role, ARN or name (default: SAGEMAKER_ROLE); not used with --local",
    )


def model_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model-data",
        help="model archive: S3 URI of model.tar.gz (with --local: a model folder or model.tar.gz)",
    )
    parser.add_argument(
        "--training-job", help="take the model of this completed training job instead"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment variable for the serving container (repeatable), "
        "e.g. SAGEMAKER_INFERENCE_OUTPUT=probability",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagemaker_launch.py",
        description=__doc__,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="run a training job and print its final metrics",
        description="Upload local data to S3 (or take S3 URIs), create a training job, follow "
        "it, print its final metrics and model location; a failed job prints its "
        "FailureReason and exits 1.",
    )
    common(train)
    image_and_role(train)
    for channel in ("train", "validation", "test"):
        train.add_argument(
            f"--{channel}",
            required=channel == "train",
            metavar="PATH_OR_S3",
            help=f"{channel} channel: a local file or folder (uploaded) or an S3 prefix URI",
        )
    train.add_argument(
        "--content-type",
        default="text/csv",
        help="content type of every channel, e.g. 'text/csv; header=present', text/libsvm, "
        "application/x-parquet (default: %(default)s)",
    )
    train.add_argument(
        "--distribution",
        choices=("FullyReplicated", "ShardedByS3Key"),
        default="FullyReplicated",
        help="how the train channel's files reach the instances: all files to each, or each "
        "instance a share of the files; validation and test are always FullyReplicated "
        "(default: %(default)s)",
    )
    train.add_argument("--instance-count", type=int, default=1, help="instances (default: 1)")
    train.add_argument(
        "--instance-type", default="ml.m5.xlarge", help="instance type (default: %(default)s)"
    )
    train.add_argument(
        "--volume-size", type=int, default=30, help="EBS volume per instance, GB (default: 30)"
    )
    train.add_argument(
        "--hyperparameters",
        type=Path,
        metavar="FILE",
        help="JSON object of hyperparameters; values are sent as strings",
    )
    train.add_argument(
        "--hp",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one hyperparameter (repeatable; overrides the file)",
    )
    train.add_argument(
        "--metric-definitions",
        type=Path,
        metavar="FILE",
        help="MetricDefinitions JSON (default: the one the image ships, "
        "container/xgb_container/metric_definitions.json)",
    )
    train.add_argument("--output-s3", help="S3 prefix for model.tar.gz (default: under --bucket)")
    train.add_argument(
        "--checkpoint-s3",
        help="S3 URI that /opt/ml/checkpoints is synced to, so a restarted job resumes "
        "(with --local: a local folder mounted there on every host)",
    )
    train.add_argument(
        "--spot", action="store_true", help="managed spot training (cheaper, may be interrupted)"
    )
    train.add_argument(
        "--max-run",
        type=int,
        default=86400,
        metavar="SECONDS",
        help="stop training after this long (default: 86400)",
    )
    train.add_argument(
        "--max-wait",
        type=int,
        metavar="SECONDS",
        help="with --spot: longest wait for spot capacity plus run time, at least --max-run "
        "(default: --max-run)",
    )
    train.add_argument("--job-name", help="training job name (default: xgb-TIMESTAMP)")
    train.add_argument(
        "--no-wait", action="store_true", help="print the job name and return without waiting"
    )

    deploy = commands.add_parser(
        "deploy",
        help="create model, endpoint config and endpoint; wait until InService",
        description="Create a model, an endpoint config (data capture on unless --no-capture) "
        "and an endpoint with one name; wait until InService and print that name.",
    )
    common(deploy)
    image_and_role(deploy)
    model_source(deploy)
    deploy.add_argument("--name", help="endpoint, endpoint config and model name")
    deploy.add_argument(
        "--instance-type", default="ml.m5.large", help="instance type (default: %(default)s)"
    )
    deploy.add_argument("--instance-count", type=int, default=1, help="instances (default: 1)")
    deploy.add_argument(
        "--capture-percent",
        type=int,
        default=100,
        help="share of requests whose input and output are captured, 0-100 (default: 100)",
    )
    deploy.add_argument(
        "--capture-s3", help="S3 prefix for captured data (default: under --bucket)"
    )
    deploy.add_argument("--no-capture", action="store_true", help="turn data capture off")
    deploy.add_argument(
        "--port",
        type=int,
        default=0,
        help="with --local: host port for the endpoint (default: free)",
    )

    invoke = commands.add_parser(
        "invoke",
        help="send rows from a file to an endpoint and print the answers",
        description="Send the rows of a CSV, JSON lines, LibSVM or JSON file to an endpoint "
        "and print the answers, one request per chunk of rows.",
    )
    common(invoke)
    invoke.add_argument("--endpoint", required=True, help="endpoint name")
    invoke.add_argument("--input", type=Path, required=True, help="file of rows")
    invoke.add_argument(
        "--content-type",
        help="request content type (default: from the file name: .csv text/csv, "
        ".jsonl application/jsonlines, .json application/json, .libsvm text/libsvm)",
    )
    invoke.add_argument("--accept", help="answer content type, e.g. application/json")
    invoke.add_argument(
        "--rows-per-request",
        type=int,
        default=0,
        help="rows per request (default: as many as fit in 6 MB); JSON documents go whole",
    )

    batch = commands.add_parser(
        "batch",
        help="batch transform (MultiRecord, SplitType Line) over S3 or local input",
        description="Run a transform job: many lines per request, one output line per input "
        "line, assembled into FILE.out per input file.",
    )
    common(batch)
    image_and_role(batch, required_image=False)
    model_source(batch)
    batch.add_argument("--model", help="existing model name (else one is made from --model-data)")
    batch.add_argument(
        "--input", required=True, help="input: local file or folder (uploaded) or S3 prefix URI"
    )
    batch.add_argument(
        "--output-s3",
        help="S3 prefix for the .out files (default: under --bucket; with --local: a local "
        "folder, default --local-dir/JOB/batch-output)",
    )
    batch.add_argument("--content-type", help="input content type (default: from the file name)")
    batch.add_argument("--accept", help="output content type, e.g. text/csv")
    batch.add_argument(
        "--instance-type", default="ml.m5.large", help="instance type (default: %(default)s)"
    )
    batch.add_argument("--instance-count", type=int, default=1, help="instances (default: 1)")
    batch.add_argument(
        "--max-payload-mb", type=int, default=6, help="largest request, MB, 1-100 (default: 6)"
    )
    batch.add_argument(
        "--max-concurrent",
        type=int,
        default=0,
        help="parallel requests per instance (default: SageMaker's choice)",
    )
    batch.add_argument("--job-name", help="transform job name (default: xgb-batch-TIMESTAMP)")

    cleanup = commands.add_parser(
        "cleanup",
        help="delete endpoints, their configs and models; say what was deleted",
        description="Delete each endpoint with its endpoint config and models, then each named "
        "model; print every deletion and every name not found.",
    )
    common(cleanup)
    cleanup.add_argument(
        "--endpoint", action="append", default=[], help="endpoint to delete (repeatable)"
    )
    cleanup.add_argument(
        "--model", action="append", default=[], help="model to delete (repeatable)"
    )
    from launcher import monitoring  # the monitor subcommand (launcher/monitoring.py)

    monitoring.add_parser(commands, common, image_and_role)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.command == "monitor":
        from launcher import monitoring

        return monitoring.run(args)
    if args.command == "cleanup" and not (args.endpoint or args.model):
        raise LaunchError("cleanup needs --endpoint NAME or --model NAME")
    if args.local:
        from launcher import local

        return getattr(local, args.command)(args)
    from launcher import remote
    from launcher.aws import Aws

    return getattr(remote, args.command)(Aws.connect(args.region), args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not type(exc).__module__.startswith("botocore"):
            raise
        print(f"error: AWS: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
