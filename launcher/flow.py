"""Steps the SageMaker flows share: inputs, waiting, and the model a command deploys."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.exceptions

from . import hosting, report, specs, values
from .aws import Aws
from .errors import LaunchError

JOB_DONE = ("Completed", "Failed", "Stopped")
ENDPOINT_DONE = ("InService", "Failed", "OutOfService", "UpdateRollbackFailed")


def staged_input(aws: Aws, source: str, bucket: str, prefix: str, kms_key: str | None) -> str:
    """An S3 URI as it is; a local file or folder uploaded under ``prefix``."""
    if source.startswith("s3://"):
        return source
    return aws.upload(Path(source), bucket, prefix, kms_key)


def wait(
    describe: Callable[[], dict[str, Any]],
    name: str,
    state_key: str,
    every: float,
    done: tuple[str, ...] = JOB_DONE,
) -> dict[str, Any]:
    """Describe until the state is one of ``done``, telling each change of state."""
    last = None
    while True:
        description = describe()
        state = (description[state_key], description.get("SecondaryStatus"))
        if state != last:
            report.status(name, *state)
            last = state
        if state[0] in done:
            return description
        time.sleep(every)


def training_job(aws: Aws, name: str) -> dict[str, Any]:
    """A completed training job's description (refused when absent or not Completed)."""
    try:
        job = aws.client("sagemaker").describe_training_job(TrainingJobName=name)
    except botocore.exceptions.ClientError:
        raise LaunchError(f"training job {name} not found") from None
    if job["TrainingJobStatus"] != "Completed":
        raise LaunchError(f"training job {name} is {job['TrainingJobStatus']}, not Completed")
    return job


def model_data(aws: Aws, args: argparse.Namespace) -> str:
    """The S3 model archive: given, or the artifacts of a completed training job."""
    if args.model_data:
        if not args.model_data.startswith("s3://"):
            raise LaunchError("--model-data must be an S3 URI of model.tar.gz (or use --local)")
        return args.model_data
    if not args.training_job:
        raise LaunchError("give --model-data S3_URI, --training-job NAME or --model-package ARN")
    if aws.dry_run:
        return f"<S3ModelArtifacts of training job {args.training_job}>"
    return training_job(aws, args.training_job)["ModelArtifacts"]["S3ModelArtifacts"]


def model_request(aws: Aws, args: argparse.Namespace, name: str) -> dict[str, Any]:
    """The CreateModel request of the model flags; every lookup made before anything is created."""
    package = getattr(args, "model_package", None)
    security = specs.security(args)
    environment = values.environment(args.env)
    role = aws.check_role(args.role)
    if package:
        check_package(aws, package)
        return hosting.model_request(name, None, role, None, environment, security, package)
    if not args.image:
        raise LaunchError("give --image (with --model-data or --training-job) or --model-package")
    image = aws.check_image(args.image)
    return hosting.model_request(name, image, role, model_data(aws, args), environment, security)


def check_package(aws: Aws, arn: str) -> None:
    """Refuse a model package that is not approved (a lookup: skipped with --dry-run)."""
    if aws.dry_run:
        return
    try:
        package = aws.client("sagemaker").describe_model_package(ModelPackageName=arn)
    except botocore.exceptions.ClientError as exc:
        raise LaunchError(f"model package {arn} not found ({exc})") from None
    status = package.get("ModelApprovalStatus")
    if status != "Approved":
        raise LaunchError(
            f"model package {arn} is {status}; approve it first "
            "(aws sagemaker update-model-package --model-approval-status Approved)"
        )


def create_model(aws: Aws, request: dict[str, Any]) -> str:
    name = request["ModelName"]
    aws.create(f"model {name}", "sagemaker", "create_model", **request)
    container = request["PrimaryContainer"]
    source = container.get("ModelDataUrl") or container.get("ModelPackageName")
    report.status(name, "model created", source)
    return name
