"""``batch``: a transform job (MultiRecord, SplitType Line) over S3 or uploaded local input."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import hosting, options, payloads, report, specs, values
from ..aws import Aws, upload_files
from ..cli import Command
from ..errors import LaunchError
from ..flow import create_model, model_request, staged_input, wait


def arguments(parser: argparse.ArgumentParser) -> None:
    options.common(parser)
    options.image_and_role(parser, required_image=False)
    options.model_source(parser)
    parser.add_argument("--model", help="existing model name (else one is made from --model-data)")
    parser.add_argument(
        "--input", required=True, help="input: local file or folder (uploaded) or S3 prefix URI"
    )
    parser.add_argument(
        "--output-s3",
        help="S3 prefix for the .out files (default: under --bucket; with --local: a local "
        "folder, default --local-dir/JOB/batch-output)",
    )
    parser.add_argument("--content-type", help="input content type (default: from the file name)")
    parser.add_argument("--accept", help="output content type, e.g. text/csv")
    options.instances(parser, "ml.m5.large")
    parser.add_argument(
        "--max-payload-mb", type=int, default=6, help="largest request, MB, 1-100 (default: 6)"
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=0,
        help="parallel requests per instance (default: SageMaker's choice)",
    )
    parser.add_argument("--job-name", help="transform job name (default: xgb-batch-TIMESTAMP)")
    parser.add_argument(
        "--model-package", metavar="ARN", help="score with this approved model package"
    )
    options.security(parser)


def settings(args: argparse.Namespace) -> hosting.Transform:
    """The transform settings, checked: the content type is known before anything is made."""
    if args.content_type:
        content_type = args.content_type
    elif args.input.startswith("s3://"):
        raise LaunchError("an S3 --input needs --content-type (the file names are not read)")
    else:
        first = upload_files(Path(args.input))[0]
        content_type = payloads.content_type_for(first, None)
    found = hosting.Transform(
        content_type=content_type,
        accept=args.accept,
        instance_type=args.instance_type,
        instance_count=args.instance_count,
        max_payload_mb=args.max_payload_mb,
        max_concurrent=args.max_concurrent,
    )
    found.check()
    return found


def remote(aws: Aws, args: argparse.Namespace) -> int:
    job = values.check_name(args.job_name or values.unique_name("xgb-batch"), "job name")
    if not (args.model or args.image or args.model_package):
        raise LaunchError(
            "batch needs --model NAME, --model-package ARN, or --image with --model-data or "
            "--training-job"
        )
    security = specs.security(args)
    transform = settings(args)
    model = None if args.model else model_request(aws, args, job)
    bucket = args.bucket or aws.default_bucket
    if not args.input.startswith("s3://") or not args.output_s3:
        aws.ensure_bucket(bucket)
    model_name = args.model or create_model(aws, model)
    request = hosting.transform_request(
        job,
        model_name,
        staged_input(aws, args.input, bucket, f"{args.prefix}/{job}/batch-input", security.kms_key),
        args.output_s3 or f"s3://{bucket}/{args.prefix}/{job}/batch-output",
        transform,
        security,
    )
    aws.create(f"transform job {job}", "sagemaker", "create_transform_job", **request)
    if aws.dry_run:
        return 0
    report.status(job, "created", f"model {model_name}")
    sm = aws.client("sagemaker")
    description = wait(
        lambda: sm.describe_transform_job(TransformJobName=job),
        job,
        "TransformJobStatus",
        args.poll,
    )
    return report.transform(description)


def local(args: argparse.Namespace) -> int:
    from ..local import batch

    return batch.batch(args)


COMMAND = Command(
    name="batch",
    help="batch transform (MultiRecord, SplitType Line) over S3 or local input",
    description="Run a transform job: many lines per request, one output line per input line, "
    "assembled into FILE.out per input file.",
    arguments=arguments,
    remote=remote,
    local=local,
)
