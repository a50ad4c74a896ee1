"""``update`` (blue/green to a new version) and ``rollback`` (back to the previous version)."""

from __future__ import annotations

import argparse
from typing import Any

import botocore.exceptions

from .. import hosting, options, report
from ..aws import Aws, warn
from ..cli import Command
from ..errors import LaunchError
from ..flow import ENDPOINT_DONE, wait
from .deploy import create_version, variant_flags, version_requests

TERMINATION_WAIT = 300  # seconds the old fleet stays up after the shift, for a fast rollback


def arguments(parser: argparse.ArgumentParser) -> None:
    options.common(parser, local=False)
    parser.add_argument("--endpoint", required=True, help="the endpoint to update")
    options.image_and_role(parser, required_image=False)
    options.model_source(parser)
    variant_flags(parser)
    shifting(parser)
    options.security(parser)


def shifting(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("traffic shifting (blue/green)")
    how = group.add_mutually_exclusive_group()
    how.add_argument(
        "--canary-percent", type=int, metavar="P", help="first P %% of capacity, then the rest"
    )
    how.add_argument("--linear-percent", type=int, metavar="P", help="P %% of capacity per step")
    group.add_argument(
        "--wait-interval",
        type=int,
        default=300,
        metavar="SECONDS",
        help="wait between traffic shifts, watching the alarms (default: 300)",
    )
    group.add_argument(
        "--rollback-alarm",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help="CloudWatch alarms that roll the update back when they fire",
    )


def deployment_config(args: argparse.Namespace) -> dict[str, Any]:
    """The DeploymentConfig of UpdateEndpoint: blue/green, all at once, canary or linear."""
    routing: dict[str, Any] = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}
    for kind, percent, key in (
        ("CANARY", getattr(args, "canary_percent", None), "CanarySize"),
        ("LINEAR", getattr(args, "linear_percent", None), "LinearStepSize"),
    ):
        if percent is None:
            continue
        if not 1 <= percent <= 99:
            raise LaunchError(f"--{kind.lower()}-percent {percent}: give 1 to 99")
        if not 0 <= args.wait_interval <= 3600:
            raise LaunchError(f"--wait-interval {args.wait_interval}: give 0 to 3600 seconds")
        routing = {
            "Type": kind,
            "WaitIntervalInSeconds": args.wait_interval,
            key: {"Type": "CAPACITY_PERCENT", "Value": percent},
        }
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": TERMINATION_WAIT,
        }
    }
    alarms = getattr(args, "rollback_alarm", [])
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def current_config(aws: Aws, endpoint: str) -> str:
    if aws.dry_run:
        return f"<current endpoint config of {endpoint}>"
    try:
        return aws.client("sagemaker").describe_endpoint(EndpointName=endpoint)[
            "EndpointConfigName"
        ]
    except botocore.exceptions.ClientError:
        raise LaunchError(f"endpoint {endpoint} not found (deploy it first)") from None


def shift(aws: Aws, args: argparse.Namespace, endpoint: str, config: str, old: str) -> int:
    """UpdateEndpoint to ``config``; wait and report where the endpoint ended."""
    request = {
        "EndpointName": endpoint,
        "EndpointConfigName": config,
        "DeploymentConfig": deployment_config(args),
    }
    aws.call("sagemaker", "update_endpoint", **request)
    if aws.dry_run:
        return 0
    report.status(endpoint, "updating", f"{old} -> {config}")
    sm = aws.client("sagemaker")
    description = wait(
        lambda: sm.describe_endpoint(EndpointName=endpoint),
        endpoint,
        "EndpointStatus",
        args.poll,
        ENDPOINT_DONE,
    )
    if description["EndpointStatus"] != "InService":
        return report.failure("endpoint", description, "EndpointStatus", "EndpointName")
    now = description["EndpointConfigName"]
    if now != config:
        print(f"endpoint {endpoint} rolled back to {now}: the update did not take", flush=True)
        return 1
    print(f"endpoint {endpoint} now serves {config} (was {old})", flush=True)
    return 0


def warn_capture_change(aws: Aws, old: str, captures: bool) -> None:
    """Say so when the new version stops the data capture the serving one does."""
    if aws.dry_run or captures:
        return
    try:
        current = aws.client("sagemaker").describe_endpoint_config(EndpointConfigName=old)
    except botocore.exceptions.ClientError:
        return  # the serving config is gone; nothing to compare with
    capture = current.get("DataCaptureConfig") or {}
    if capture.get("EnableCapture"):
        warn(
            f"{old} captures {capture.get('InitialSamplingPercentage')} % of requests and the new "
            "version captures none; pass --capture-percent N to keep capturing"
        )


def update(aws: Aws, args: argparse.Namespace) -> int:
    endpoint = args.endpoint
    deployment_config(args)  # refuse bad shifting flags before anything is created
    old = current_config(aws, endpoint)
    model, config = version_requests(aws, args, endpoint)
    warn_capture_change(aws, old, "DataCaptureConfig" in config)
    new = create_version(aws, model, config)
    return shift(aws, args, endpoint, new, old)


def previous_version(aws: Aws, endpoint: str, current: str) -> str:
    if aws.dry_run:
        return f"<version before {current}>"
    pages = aws.client("sagemaker").get_paginator("list_endpoint_configs")
    names = [
        c["EndpointConfigName"]
        for page in pages.paginate(NameContains=endpoint)
        for c in page["EndpointConfigs"]
        if hosting.is_version_of(c["EndpointConfigName"], endpoint)
    ]
    older = sorted(n for n in names if n < current)
    if not older:
        raise LaunchError(f"endpoint {endpoint} has no version before {current} to roll back to")
    return older[-1]


def rollback(aws: Aws, args: argparse.Namespace) -> int:
    current = current_config(aws, args.endpoint)
    return shift(aws, args, args.endpoint, previous_version(aws, args.endpoint, current), current)


def rollback_arguments(parser: argparse.ArgumentParser) -> None:
    options.common(parser, local=False)
    parser.add_argument("--endpoint", required=True, help="the endpoint to roll back")


COMMANDS = [
    Command(
        name="update",
        help="blue/green update of an endpoint to a new model version",
        description="Create a new model and endpoint config version and shift the endpoint's "
        "traffic to it (all at once, --canary-percent or --linear-percent), rolling back when a "
        "--rollback-alarm fires; wait and report.",
        arguments=arguments,
        remote=update,
    ),
    Command(
        name="rollback",
        help="return an endpoint to its previous endpoint config version",
        description="Update the endpoint to the version before the one it serves and wait.",
        arguments=rollback_arguments,
        remote=rollback,
    ),
]
