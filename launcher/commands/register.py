"""``register``: a training job's model as a model package version, with its evaluation."""

from __future__ import annotations

import argparse
import io
import tarfile
from typing import Any

import botocore.exceptions

from .. import options, specs
from ..aws import Aws, error_message, is_not_found
from ..cli import Command
from ..errors import LaunchError
from ..flow import training_job

APPROVALS = ("Approved", "PendingManualApproval", "Rejected")
EVALUATION = "evaluation-validation.json"
CONTENT_TYPES = [
    "text/csv",
    "text/libsvm",
    "application/json",
    "application/jsonlines",
    "application/x-parquet",
]
ANSWER_TYPES = ["text/csv", "application/json", "application/jsonlines"]


def arguments(parser: argparse.ArgumentParser) -> None:
    options.common(parser, local=False)
    parser.add_argument(
        "--training-job", required=True, help="the completed training job to register"
    )
    parser.add_argument("--group", required=True, help="model package group (created when missing)")
    parser.add_argument("--image", required=True, help="serving image (ECR URI or NAME[:TAG])")
    parser.add_argument(
        "--approval",
        choices=APPROVALS,
        default="PendingManualApproval",
        help="approval status of the new version (default: %(default)s)",
    )
    parser.add_argument("--description", default="", help="description of the version")
    options.security(parser, network=False)


def evaluation(aws: Aws, job: dict[str, Any]) -> bytes:
    """``evaluation-validation.json`` from the job's ``output.tar.gz``."""
    name = job["TrainingJobName"]
    uri = f"{job['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{name}/output/output.tar.gz"
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            member = tar.extractfile(EVALUATION)
            if member is not None:
                return member.read()
    except (botocore.exceptions.ClientError, tarfile.TarError, KeyError):
        pass
    raise LaunchError(
        f"training job {name} has no {EVALUATION} in {uri} (train with a validation channel)"
    )


def ensure_group(aws: Aws, group: str, security: specs.Security) -> None:
    if not aws.dry_run:
        try:
            aws.client("sagemaker").describe_model_package_group(ModelPackageGroupName=group)
            return
        except botocore.exceptions.ClientError as exc:
            if not is_not_found("sagemaker", exc):
                raise LaunchError(f"cannot look up group {group}: {error_message(exc)}") from None
    request = security.tagged({"ModelPackageGroupName": group})
    aws.create(f"model package group {group}", "sagemaker", "create_model_package_group", **request)


def package_request(
    args: argparse.Namespace, image: str, model: str, metrics_uri: str, security: specs.Security
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ModelPackageGroupName": args.group,
        "ModelPackageDescription": args.description or f"training job {args.training_job}",
        "InferenceSpecification": {
            "Containers": [{"Image": image, "ModelDataUrl": model}],
            "SupportedContentTypes": CONTENT_TYPES,
            "SupportedResponseMIMETypes": ANSWER_TYPES,
        },
        "ModelApprovalStatus": args.approval,
        "ModelMetrics": {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": metrics_uri}
            }
        },
        "CustomerMetadataProperties": {"TrainingJob": args.training_job},
    }
    return security.tagged(request)


def remote(aws: Aws, args: argparse.Namespace) -> int:
    security = specs.security(args)
    image = aws.check_image(args.image)
    bucket = args.bucket or aws.default_bucket
    key = f"{args.prefix}/{args.training_job}/{EVALUATION}"
    if aws.dry_run:
        model = f"<S3ModelArtifacts of training job {args.training_job}>"
        body = None
    else:
        job = training_job(aws, args.training_job)
        model = job["ModelArtifacts"]["S3ModelArtifacts"]
        body = evaluation(aws, job)
        aws.ensure_bucket(bucket)
    extra = (
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": security.kms_key}
        if security.kms_key
        else {}
    )
    upload = {"Bucket": bucket, "Key": key, "ContentType": "application/json", **extra}
    aws.create(
        f"s3://{bucket}/{key}", "s3", "put_object", **upload, **({"Body": body} if body else {})
    )
    ensure_group(aws, args.group, security)
    request = package_request(args, image, model, f"s3://{bucket}/{key}", security)
    answer = aws.create(
        f"model package in {args.group}", "sagemaker", "create_model_package", **request
    )
    if not aws.dry_run:
        print(answer["ModelPackageArn"])
    return 0


COMMAND = Command(
    name="register",
    help="register a training job's model in a model package group, with its evaluation",
    description="Create a model package version in GROUP from a completed training job: its "
    "model, the serving image, its evaluation-validation.json as ModelMetrics (ModelQuality "
    "statistics) and an approval status; print the package ARN for deploy --model-package.",
    arguments=arguments,
    remote=remote,
)
