"""``train``: upload the channels, create a training job, follow it, print its metrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import options, report, specs, values
from ..aws import Aws, upload_files, warn
from ..cli import Command
from ..flow import staged_input, wait


def arguments(parser: argparse.ArgumentParser) -> None:
    options.common(parser)
    options.image_and_role(parser)
    options.training(parser)
    options.security(parser)
    options.no_wait(parser)


def check_local_sources(channels: dict[str, str]) -> None:
    """Every local channel exists and holds files: checked before anything is created."""
    for source in channels.values():
        if not source.startswith("s3://"):
            upload_files(Path(source))


def stage(aws: Aws, args: argparse.Namespace, spec: specs.TrainingSpec) -> None:
    """Upload the local channels (the bucket made when missing); S3 channels stay as they are."""
    bucket = args.bucket or aws.default_bucket
    if not args.output_s3 or any(not v.startswith("s3://") for v in spec.channels.values()):
        aws.ensure_bucket(bucket)
    spec.channels = {
        name: staged_input(
            aws,
            source,
            bucket,
            f"{args.prefix}/{spec.job_name}/input/{name}",
            spec.security.kms_key,
        )
        for name, source in spec.channels.items()
    }
    if spec.distribution == "ShardedByS3Key" and spec.instance_count > 1:
        files = aws.count_objects(spec.channels["train"])
        if files is not None and files < spec.instance_count:
            warn(
                f"train has {files} file(s) for {spec.instance_count} instances: with "
                "ShardedByS3Key some instances get no data; split it into more files"
            )


def prepare(aws: Aws, args: argparse.Namespace, job: str) -> specs.TrainingSpec:
    """The checked spec of the training flags, with its channels staged in S3."""
    bucket = args.bucket or aws.default_bucket
    spec = specs.training_spec(
        args,
        job,
        image=aws.check_image(args.image),
        role=aws.check_role(args.role),
        output=args.output_s3 or f"s3://{bucket}/{args.prefix}/output",
    )
    check_local_sources(spec.channels)
    if spec.spot and not spec.checkpoint_s3:
        warn("managed spot without --checkpoint-s3: an interrupted job starts over")
    stage(aws, args, spec)
    return spec


def remote(aws: Aws, args: argparse.Namespace) -> int:
    job = values.check_name(args.job_name or values.unique_name("xgb"), "job name")
    spec = prepare(aws, args, job)
    aws.create(f"training job {job}", "sagemaker", "create_training_job", **spec.request())
    if aws.dry_run:
        return 0
    report.status(job, "created", f"{spec.instance_count} x {spec.instance_type}")
    if args.no_wait:
        print(job)
        return 0
    sm = aws.client("sagemaker")
    description = wait(
        lambda: sm.describe_training_job(TrainingJobName=job), job, "TrainingJobStatus", args.poll
    )
    return report.training(description)


def local(args: argparse.Namespace) -> int:
    from ..local import training

    return training.train(args)


COMMAND = Command(
    name="train",
    help="run a training job and print its final metrics",
    description="Upload local data to S3 (or take S3 URIs), create a training job, follow it, "
    "print its final metrics and model location; a failed job prints its FailureReason and "
    "exits 1.",
    arguments=arguments,
    remote=remote,
    local=local,
)
