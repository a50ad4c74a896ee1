"""``cleanup``: delete endpoints with every version of their configs and models, and models.

Only a real not-found counts as gone. Any other failure is reported with what remains, the
endpoint's configs and models are then kept (they belong to a live endpoint), and the exit
status is 1.
"""

from __future__ import annotations

import argparse

import botocore.exceptions

from .. import hosting, options
from ..aws import Aws, error_message, is_not_found
from ..cli import Command
from ..errors import LaunchError


def arguments(parser: argparse.ArgumentParser) -> None:
    options.common(parser)
    parser.add_argument(
        "--endpoint", action="append", default=[], help="endpoint to delete (repeatable)"
    )
    parser.add_argument("--model", action="append", default=[], help="model to delete (repeatable)")


def lookup(aws: Aws, what: str, call) -> dict | None:  # noqa: ANN001 - a boto3 call
    """A describe: its answer, None when the thing is not there; other errors raise."""
    try:
        return call()
    except botocore.exceptions.ClientError as exc:
        if is_not_found("sagemaker", exc):
            return None
        raise LaunchError(f"cannot look up {what}: {error_message(exc)}") from None


def versions(aws: Aws, endpoint: str, kind: str) -> list[str]:
    """Every ``ENDPOINT-v...`` endpoint config or model there is."""
    if aws.dry_run:
        return [f"<each {kind} {endpoint}-v...>"]
    method, key, field = {
        "endpoint config": ("list_endpoint_configs", "EndpointConfigs", "EndpointConfigName"),
        "model": ("list_models", "Models", "ModelName"),
    }[kind]
    pages = aws.client("sagemaker").get_paginator(method).paginate(NameContains=endpoint)
    names = (item[field] for page in pages for item in page[key])
    return sorted(n for n in names if hosting.is_version_of(n, endpoint))


def config_models(aws: Aws, config: str) -> list[str]:
    if aws.dry_run:
        return []
    sm = aws.client("sagemaker")
    found = lookup(
        aws,
        f"endpoint config {config}",
        lambda: sm.describe_endpoint_config(EndpointConfigName=config),
    )
    return [v["ModelName"] for v in (found or {}).get("ProductionVariants", [])]


def endpoint_parts(aws: Aws, endpoint: str) -> tuple[list[str], list[str]]:
    """The endpoint's configs (every version, the live one, a legacy one named like it) and models."""
    configs = versions(aws, endpoint, "endpoint config")
    if not aws.dry_run:
        sm = aws.client("sagemaker")
        live = lookup(
            aws, f"endpoint {endpoint}", lambda: sm.describe_endpoint(EndpointName=endpoint)
        )
        legacy = lookup(
            aws,
            f"endpoint config {endpoint}",
            lambda: sm.describe_endpoint_config(EndpointConfigName=endpoint),
        )
        extra = [live["EndpointConfigName"]] if live else []
        extra += [endpoint] if legacy else []
        configs += [c for c in extra if c not in configs]
    models = versions(aws, endpoint, "model")
    for config in configs:
        models += [m for m in config_models(aws, config) if m not in models]
    return configs, models


def scaled(aws: Aws, target: dict[str, str]) -> bool:
    """Whether the endpoint's variant is registered with auto scaling (a lookup)."""
    if aws.dry_run:
        return True
    answer = aws.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace=target["ServiceNamespace"],
        ResourceIds=[target["ResourceId"]],
        ScalableDimension=target["ScalableDimension"],
    )
    return bool(answer.get("ScalableTargets"))


def delete_endpoint(aws: Aws, endpoint: str) -> list[str]:
    """Delete one endpoint and what belongs to it; the names that remain after an error."""
    configs, models = endpoint_parts(aws, endpoint)
    target = hosting.scaling_target(endpoint)
    try:
        if scaled(aws, target):
            aws.delete(
                "scaling registration", endpoint, "application-autoscaling",
                "deregister_scalable_target", **target,
            )  # fmt: skip
        aws.delete("endpoint", endpoint, "sagemaker", "delete_endpoint", EndpointName=endpoint)
    except LaunchError as exc:
        print(f"error: {exc}", flush=True)
        return (
            [f"endpoint {endpoint}"]
            + [f"endpoint config {c}" for c in configs]
            + [f"model {m}" for m in models]
        )
    remaining = []
    for config in configs:
        remaining += delete(aws, "endpoint config", config, EndpointConfigName=config)
    for model in models:
        remaining += delete(aws, "model", model, ModelName=model)
    return remaining


def delete(aws: Aws, kind: str, name: str, **params: str) -> list[str]:
    method = "delete_" + kind.replace(" ", "_")
    try:
        aws.delete(kind, name, "sagemaker", method, **params)
    except LaunchError as exc:
        print(f"error: {exc}", flush=True)
        return [f"{kind} {name}"]
    return []


def remote(aws: Aws, args: argparse.Namespace) -> int:
    require_names(args)
    remaining: list[str] = []
    for endpoint in args.endpoint:
        remaining += delete_endpoint(aws, endpoint)
    for model in args.model:
        remaining += delete(aws, "model", model, ModelName=model)
    if remaining:
        print(f"remaining (still there, still billed where running): {', '.join(remaining)}")
        return 1
    return 0


def require_names(args: argparse.Namespace) -> None:
    if not (args.endpoint or args.model):
        raise LaunchError("cleanup needs --endpoint NAME or --model NAME")


def local(args: argparse.Namespace) -> int:
    from ..local import serving

    require_names(args)
    return serving.cleanup(args)


COMMAND = Command(
    name="cleanup",
    help="delete endpoints with every version of their configs and models; say what was deleted",
    description="Delete each endpoint with its scaling registration and every version of its "
    "endpoint config and model, then each named model; print one line per deletion and per "
    "name not found; any other failure names what remains and exits 1.",
    arguments=arguments,
    remote=remote,
    local=local,
)
