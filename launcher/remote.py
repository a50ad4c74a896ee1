"""The subcommands against SageMaker (or whatever ``AWS_ENDPOINT_URL`` points at)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import botocore.exceptions

from . import payloads, report, specs
from .aws import Aws, error_code, warn
from .errors import LaunchError


def _input(aws: Aws, source: str, bucket: str, prefix: str) -> str:
    return source if source.startswith("s3://") else aws.upload(Path(source), bucket, prefix)


def _wait(describe, name: str, state_key: str, every: float) -> dict[str, Any]:
    """Describe a job until it ends, telling each change of state."""
    last = None
    while True:
        description = describe()
        state = (description[state_key], description.get("SecondaryStatus"))
        if state != last:
            report.status(name, *state)
            last = state
        if state[0] in report.DONE or state[0] in ("InService", "Failed", "OutOfService"):
            return description
        time.sleep(every)


def train(aws: Aws, args: argparse.Namespace) -> int:
    job = specs.check_name(args.job_name or specs.unique_name("xgb"), "job name")
    bucket = args.bucket or aws.default_bucket
    base = f"{args.prefix}/{job}"
    spec = specs.TrainingSpec(
        job_name=job,
        image=aws.check_image(args.image),
        role=aws.check_role(args.role),
        channels={c: getattr(args, c) for c in specs.CHANNELS if getattr(args, c)},
        output_s3=args.output_s3 or f"s3://{bucket}/{args.prefix}/output",
        hyperparameters=specs.hyperparameters(args.hyperparameters, args.hp),
        metrics=specs.metric_definitions(args.metric_definitions),
        instance_type=args.instance_type,
        instance_count=args.instance_count,
        volume_gb=args.volume_size,
        distribution=args.distribution,
        content_type=args.content_type,
        checkpoint_s3=args.checkpoint_s3,
        spot=args.spot,
        max_run=args.max_run,
        max_wait=args.max_wait,
    )
    spec.check()
    if spec.spot and not spec.checkpoint_s3:
        warn("managed spot without --checkpoint-s3: an interrupted job starts over")
    if not args.output_s3 or any(not v.startswith("s3://") for v in spec.channels.values()):
        aws.ensure_bucket(bucket)
    spec.channels = {
        name: _input(aws, source, bucket, f"{base}/input/{name}")
        for name, source in spec.channels.items()
    }
    if spec.distribution == "ShardedByS3Key" and spec.instance_count > 1:
        files = aws.count_objects(spec.channels["train"])
        if files < spec.instance_count:
            warn(
                f"train has {files} file(s) for {spec.instance_count} instances: with "
                "ShardedByS3Key some instances get no data; split it into more files"
            )
    sm = aws.client("sagemaker")
    sm.create_training_job(**spec.request())
    report.status(job, "created", f"{spec.instance_count} x {spec.instance_type}")
    if args.no_wait:
        print(job)
        return 0
    description = _wait(
        lambda: sm.describe_training_job(TrainingJobName=job), job, "TrainingJobStatus", args.poll
    )
    return report.training(description)


def model_data(aws: Aws, args: argparse.Namespace) -> str:
    """The S3 model archive: given, or the artifacts of a completed training job."""
    if args.model_data:
        if not args.model_data.startswith("s3://"):
            raise LaunchError("--model-data must be an S3 URI of model.tar.gz (or use --local)")
        return args.model_data
    if not args.training_job:
        raise LaunchError("give --model-data S3_URI or --training-job NAME")
    try:
        job = aws.client("sagemaker").describe_training_job(TrainingJobName=args.training_job)
    except botocore.exceptions.ClientError:
        raise LaunchError(f"training job {args.training_job} not found") from None
    if job["TrainingJobStatus"] != "Completed":
        raise LaunchError(
            f"training job {args.training_job} is {job['TrainingJobStatus']}, not Completed"
        )
    return job["ModelArtifacts"]["S3ModelArtifacts"]


def create_model(aws: Aws, args: argparse.Namespace, name: str) -> str:
    request = specs.model_request(
        name,
        aws.check_image(args.image),
        aws.check_role(args.role),
        model_data(aws, args),
        specs.environment(args.env),
    )
    aws.client("sagemaker").create_model(**request)
    report.status(name, "model created", request["PrimaryContainer"]["ModelDataUrl"])
    return name


def deploy(aws: Aws, args: argparse.Namespace) -> int:
    name = specs.check_name(args.name or specs.unique_name("xgb"), "endpoint name")
    bucket = args.bucket or aws.default_bucket
    capture = None
    if not args.no_capture:
        capture = args.capture_s3 or f"s3://{bucket}/{args.prefix}/capture/{name}"
        if not args.capture_s3:
            aws.ensure_bucket(bucket)
    config = specs.endpoint_config_request(
        name, name, args.instance_type, args.instance_count, capture, args.capture_percent
    )
    create_model(aws, args, name)
    sm = aws.client("sagemaker")
    sm.create_endpoint_config(**config)
    report.status(name, "endpoint config created", f"data capture {capture or 'off'}")
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    description = _wait(
        lambda: sm.describe_endpoint(EndpointName=name), name, "EndpointStatus", args.poll
    )
    if description["EndpointStatus"] != "InService":
        return report.failure("endpoint", description, "EndpointStatus", "EndpointName")
    print(name)
    return 0


def invoke(aws: Aws, args: argparse.Namespace) -> int:
    runtime = aws.client("sagemaker-runtime")
    content_type = payloads.content_type_for(args.input, args.content_type)
    for body in payloads.bodies(args.input, content_type, args.rows_per_request):
        request = {"EndpointName": args.endpoint, "Body": body, "ContentType": content_type}
        if args.accept:
            request["Accept"] = args.accept
        try:
            answer = runtime.invoke_endpoint(**request)["Body"].read().decode()
        except botocore.exceptions.ClientError as exc:
            raise LaunchError(f"endpoint {args.endpoint}: {exc}") from None
        sys.stdout.write(answer if answer.endswith("\n") else answer + "\n")
    return 0


def batch(aws: Aws, args: argparse.Namespace) -> int:
    job = specs.check_name(args.job_name or specs.unique_name("xgb-batch"), "job name")
    bucket = args.bucket or aws.default_bucket
    if not args.model and not args.image:
        raise LaunchError(
            "batch needs --model NAME, or --image with --model-data or --training-job"
        )
    model = args.model or create_model(aws, args, job)
    if not args.input.startswith("s3://") or not args.output_s3:
        aws.ensure_bucket(bucket)
    request = specs.transform_request(
        job,
        model,
        _input(aws, args.input, bucket, f"{args.prefix}/{job}/batch-input"),
        args.output_s3 or f"s3://{bucket}/{args.prefix}/{job}/batch-output",
        payloads.content_type_for(Path(args.input), args.content_type),
        args.accept,
        args.instance_type,
        args.instance_count,
        args.max_payload_mb,
        args.max_concurrent,
    )
    sm = aws.client("sagemaker")
    sm.create_transform_job(**request)
    report.status(job, "created", f"model {model}")
    description = _wait(
        lambda: sm.describe_transform_job(TransformJobName=job),
        job,
        "TransformJobStatus",
        args.poll,
    )
    return report.transform(description)


def _delete(kind: str, name: str, call) -> bool:
    try:
        call()
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) in ("ValidationException", "ResourceNotFound"):
            print(f"{kind} {name}: not found")
            return False
        raise LaunchError(f"cannot delete {kind} {name}: {exc}") from None
    print(f"deleted {kind} {name}")
    return True


def cleanup(aws: Aws, args: argparse.Namespace) -> int:
    """Delete endpoints with their configs and models, then the named models."""
    sm = aws.client("sagemaker")
    models = list(args.model)
    for endpoint in args.endpoint:
        configs = [endpoint]  # deploy names the config after the endpoint
        with contextlib.suppress(botocore.exceptions.ClientError):
            configs = [sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]]
        _delete("endpoint", endpoint, lambda e=endpoint: sm.delete_endpoint(EndpointName=e))
        for config in configs:
            try:
                variants = sm.describe_endpoint_config(EndpointConfigName=config)[
                    "ProductionVariants"
                ]
                models += [v["ModelName"] for v in variants if v["ModelName"] not in models]
            except botocore.exceptions.ClientError:
                models += [endpoint] if endpoint not in models else []
            _delete(
                "endpoint config",
                config,
                lambda c=config: sm.delete_endpoint_config(EndpointConfigName=c),
            )
    for model in models:
        _delete("model", model, lambda m=model: sm.delete_model(ModelName=m))
    return 0
