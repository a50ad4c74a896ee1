"""``deploy``: a versioned model and endpoint config behind a stable endpoint name."""

from __future__ import annotations

import argparse

import botocore.exceptions

from .. import hosting, options, report, specs, values
from ..aws import Aws, is_not_found
from ..cli import Command
from ..errors import LaunchError
from ..flow import ENDPOINT_DONE, create_model, model_request, wait


def variant_flags(parser: argparse.ArgumentParser) -> None:
    """How the endpoint runs and what it captures; deploy and update share them."""
    options.instances(parser, "ml.m5.large")
    parser.add_argument(
        "--serverless",
        metavar="MEMORY_MB:MAX_CONCURRENCY",
        help="a serverless endpoint (low cost for low traffic) instead of instances, e.g. 2048:5",
    )
    parser.add_argument(
        "--capture-percent",
        type=int,
        metavar="N",
        help="capture input and output of N %% of requests, 1-100 (default: no capture); "
        "encrypted with --kms-key when given",
    )
    parser.add_argument(
        "--capture-s3", help="S3 prefix for captured data (default: under --bucket)"
    )
    parser.add_argument(
        "--model-package", metavar="ARN", help="deploy this approved model package version"
    )


def arguments(parser: argparse.ArgumentParser) -> None:
    options.common(parser)
    options.image_and_role(parser, required_image=False)
    options.model_source(parser)
    parser.add_argument("--name", help="endpoint name (its model and config get a version suffix)")
    variant_flags(parser)
    group = parser.add_argument_group("auto scaling")
    group.add_argument("--min-instances", type=int, help="scale between this many instances ...")
    group.add_argument("--max-instances", type=int, help="... and this many (target tracking)")
    group.add_argument(
        "--target-invocations",
        type=float,
        default=100.0,
        help="invocations per instance per minute to aim at (default: 100)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="with --local: host port for the endpoint (default: free)",
    )
    options.security(parser)


def variant(args: argparse.Namespace) -> hosting.Variant:
    found = hosting.Variant(
        instance_type=args.instance_type,
        instance_count=args.instance_count,
        serverless=hosting.serverless(args.serverless) if args.serverless else None,
    )
    if found.instance_count < 1:
        raise LaunchError(f"--instance-count {found.instance_count}: needs at least 1")
    return found


def capture_uri(aws: Aws, args: argparse.Namespace, endpoint: str) -> str | None:
    if args.capture_percent is None:
        return None
    if args.capture_s3:
        return args.capture_s3
    bucket = args.bucket or aws.default_bucket
    aws.ensure_bucket(bucket)
    return f"s3://{bucket}/{args.prefix}/capture/{endpoint}"


def version_requests(aws: Aws, args: argparse.Namespace, endpoint: str) -> tuple[dict, dict]:
    """CreateModel and CreateEndpointConfig of one new version, checked before any create."""
    version = hosting.version_name(endpoint)
    security = specs.security(args)
    shape = variant(args)
    model = model_request(aws, args, version)
    config = hosting.endpoint_config_request(
        version, version, shape, None, args.capture_percent, security
    )
    if "DataCaptureConfig" in config:
        config["DataCaptureConfig"]["DestinationS3Uri"] = capture_uri(aws, args, endpoint)
    return model, config


def scaling(args: argparse.Namespace, endpoint: str) -> tuple[dict, dict] | None:
    if args.min_instances is None and args.max_instances is None:
        return None
    if args.serverless:
        raise LaunchError(
            "--min-instances/--max-instances scale instances; serverless scales itself"
        )
    low = args.min_instances if args.min_instances is not None else args.instance_count
    high = args.max_instances if args.max_instances is not None else max(low, args.instance_count)
    requests = hosting.scaling_requests(
        endpoint, low, high, args.target_invocations, specs.security(args)
    )
    if not low <= args.instance_count <= high:
        raise LaunchError(
            f"--instance-count {args.instance_count} must lie within --min-instances {low} "
            f"and --max-instances {high}"
        )
    return requests


def refuse_existing(aws: Aws, endpoint: str) -> None:
    if aws.dry_run:
        return
    try:
        aws.client("sagemaker").describe_endpoint(EndpointName=endpoint)
    except botocore.exceptions.ClientError as exc:
        if is_not_found("sagemaker", exc):
            return
        raise
    raise LaunchError(
        f"endpoint {endpoint} exists already: change it with update --endpoint {endpoint}"
    )


def create_version(aws: Aws, model: dict, config: dict) -> str:
    create_model(aws, model)
    name = config["EndpointConfigName"]
    aws.create(f"endpoint config {name}", "sagemaker", "create_endpoint_config", **config)
    capture = config.get("DataCaptureConfig", {}).get("DestinationS3Uri")
    report.status(name, "endpoint config created", f"data capture {capture or 'off'}")
    return name


def register_scaling(aws: Aws, requests: tuple[dict, dict] | None) -> None:
    if requests is None:
        return
    register, policy = requests
    aws.create("scalable target", "application-autoscaling", "register_scalable_target", **register)
    aws.create("scaling policy", "application-autoscaling", "put_scaling_policy", **policy)
    report.status(
        register["ResourceId"],
        "auto scaling",
        f"{register['MinCapacity']}-{register['MaxCapacity']} instances, target "
        f"{policy['TargetTrackingScalingPolicyConfiguration']['TargetValue']:g} invocations",
    )


def remote(aws: Aws, args: argparse.Namespace) -> int:
    name = values.check_name(args.name or values.unique_name("xgb"), "endpoint name")
    hosting.check_endpoint_name(name)
    scale = scaling(args, name)
    refuse_existing(aws, name)
    model, config = version_requests(aws, args, name)
    config_name = create_version(aws, model, config)
    endpoint = specs.security(args).tagged(
        {"EndpointName": name, "EndpointConfigName": config_name}
    )
    aws.create(f"endpoint {name}", "sagemaker", "create_endpoint", **endpoint)
    if not aws.dry_run:
        sm = aws.client("sagemaker")
        description = wait(
            lambda: sm.describe_endpoint(EndpointName=name),
            name,
            "EndpointStatus",
            args.poll,
            ENDPOINT_DONE,
        )
        if description["EndpointStatus"] != "InService":
            return report.failure("endpoint", description, "EndpointStatus", "EndpointName")
    register_scaling(aws, scale)
    if not aws.dry_run:
        print(name)
    return 0


def local(args: argparse.Namespace) -> int:
    from ..local import serving

    return serving.deploy(args)


COMMAND = Command(
    name="deploy",
    help="create a model, an endpoint config and an endpoint; wait until InService",
    description="Create a versioned model and endpoint config (NAME-vYYYYmmddHHMMSSmmm) and the "
    "endpoint NAME; wait until InService, register auto scaling when asked, print NAME.",
    arguments=arguments,
    remote=remote,
    local=local,
)
