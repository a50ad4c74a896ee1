"""The argument groups the subcommands share; each flag is declared once, here."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .specs import CHANNELS, DISTRIBUTIONS


def common(parser: argparse.ArgumentParser, local: bool = True) -> None:
    """Region, dry run, polling, bucket and prefix; ``--local`` where the command has it."""
    group = parser.add_argument_group("AWS")
    group.add_argument(
        "--region",
        help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION or the AWS CLI configuration)",
    )
    group.add_argument(
        "--dry-run",
        action="store_true",
        help="print each request it would send, one JSON object a line, and send nothing "
        "(no credentials or network needed; lookups become <PLACEHOLDERS>)",
    )
    group.add_argument(
        "--poll",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds between status checks while waiting (default: 30)",
    )
    group.add_argument(
        "--bucket",
        help="S3 bucket for uploads, outputs and captures (default: sagemaker-REGION-ACCOUNT, "
        "created when missing)",
    )
    group.add_argument(
        "--prefix",
        default="xgb-container",
        help="S3 key prefix under the bucket (default: %(default)s)",
    )
    if local:
        group = parser.add_argument_group("local Docker")
        group.add_argument(
            "--local",
            action="store_true",
            help="run on the local Docker engine instead of SageMaker (no AWS account needed)",
        )
        group.add_argument(
            "--local-dir",
            type=Path,
            default=Path("local-jobs"),
            help="with --local: folder for job folders, models and outputs (default: %(default)s)",
        )


def security(parser: argparse.ArgumentParser, network: bool = True) -> None:
    """KMS, VPC, network isolation and tags: secure by default on every resource created."""
    group = parser.add_argument_group("security")
    group.add_argument(
        "--kms-key",
        metavar="ARN",
        help="KMS key for outputs, volumes, endpoint storage, data capture and S3 uploads (SSE-KMS)",
    )
    group.add_argument(
        "--tags",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="tags on every resource created (repeatable)",
    )
    if not network:
        return
    group.add_argument(
        "--subnets", nargs="+", action="extend", metavar="ID", help="VPC subnets (VpcConfig)"
    )
    group.add_argument(
        "--security-groups",
        nargs="+",
        action="extend",
        metavar="ID",
        help="VPC security groups (VpcConfig; with --subnets)",
    )
    group.add_argument(
        "--network-isolation",
        action="store_true",
        help="no network access for the containers (EnableNetworkIsolation)",
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


def instances(parser: argparse.ArgumentParser, default_type: str) -> None:
    parser.add_argument(
        "--instance-type", default=default_type, help="instance type (default: %(default)s)"
    )
    parser.add_argument("--instance-count", type=int, default=1, help="instances (default: 1)")


def training(parser: argparse.ArgumentParser) -> None:
    """Everything a training job is made of; train and tune share it."""
    for channel in CHANNELS:
        parser.add_argument(
            f"--{channel}",
            required=channel == "train",
            metavar="PATH_OR_S3",
            help=f"{channel} channel: a local file or folder (uploaded) or an S3 prefix URI",
        )
    parser.add_argument(
        "--content-type",
        default="text/csv",
        help="content type of every channel, e.g. 'text/csv; header=present', text/libsvm, "
        "application/x-parquet (default: %(default)s)",
    )
    parser.add_argument(
        "--distribution",
        choices=DISTRIBUTIONS,
        default="FullyReplicated",
        help="how the train channel's files reach the instances: all files to each, or each "
        "instance a share of the files; validation and test are always FullyReplicated "
        "(default: %(default)s)",
    )
    instances(parser, "ml.m5.xlarge")
    parser.add_argument(
        "--volume-size", type=int, default=30, help="EBS volume per instance, GB (default: 30)"
    )
    parser.add_argument(
        "--no-inter-container-encryption",
        action="store_true",
        help="do not encrypt traffic between training instances (on by default with 2 or more)",
    )
    parser.add_argument(
        "--hyperparameters",
        type=Path,
        metavar="FILE",
        help="JSON object of hyperparameters; values are sent as strings",
    )
    parser.add_argument(
        "--hp",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one hyperparameter (repeatable; overrides the file)",
    )
    parser.add_argument(
        "--metric-definitions",
        type=Path,
        metavar="FILE",
        help="MetricDefinitions JSON (default: the one the image ships, "
        "container/xgb_container/metric_definitions.json)",
    )
    parser.add_argument("--output-s3", help="S3 prefix for model.tar.gz (default: under --bucket)")
    parser.add_argument(
        "--checkpoint-s3",
        help="S3 URI under which each job's /opt/ml/checkpoints is synced, in a prefix named "
        "after the job, so a restarted job resumes (with --local: a local folder)",
    )
    parser.add_argument(
        "--checkpoint-shared",
        action="store_true",
        help="use --checkpoint-s3 as it is, without the job name appended",
    )
    parser.add_argument(
        "--spot", action="store_true", help="managed spot training (cheaper, may be interrupted)"
    )
    parser.add_argument(
        "--max-run",
        type=int,
        default=86400,
        metavar="SECONDS",
        help="stop training after this long (default: 86400)",
    )
    parser.add_argument(
        "--max-wait",
        type=int,
        metavar="SECONDS",
        help="with --spot: longest wait for spot capacity plus run time, at least --max-run "
        "(default: --max-run)",
    )
    parser.add_argument("--job-name", help="job name (default: xgb-TIMESTAMP)")


def no_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-wait", action="store_true", help="print the job's name and return without waiting"
    )
