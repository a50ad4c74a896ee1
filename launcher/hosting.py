"""The requests that host a model: model, endpoint config, transform job, auto scaling.

Plain values in, request dicts out; no AWS call here.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

from .errors import LaunchError
from .specs import Security

VARIANT = "AllTraffic"
SCALE_IN_COOLDOWN = 300  # seconds: scale in slowly, so a short lull does not drop capacity
SCALE_OUT_COOLDOWN = 60  # seconds: scale out quickly when traffic grows
VERSION_DIGITS = 17  # -vYYYYmmddHHMMSSmmm
MAX_ENDPOINT_NAME = 63 - len("-v") - VERSION_DIGITS


def version_name(endpoint: str, now: float | None = None) -> str:
    """``ENDPOINT-vYYYYmmddHHMMSSmmm``: the name of one version's model and endpoint config."""
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}"
    return f"{endpoint}-v{stamp}"


def is_version_of(name: str, endpoint: str) -> bool:
    rest = name.removeprefix(f"{endpoint}-v")
    return rest != name and len(rest) == VERSION_DIGITS and rest.isdigit()


def check_endpoint_name(name: str) -> str:
    if len(name) > MAX_ENDPOINT_NAME:
        raise LaunchError(
            f"endpoint name {name!r} has {len(name)} characters; at most {MAX_ENDPOINT_NAME} "
            "leave room for the version suffix of its model and endpoint config names"
        )
    return name


def model_request(
    name: str,
    image: str | None,
    role: str,
    model_data: str | None,
    environment: dict[str, str],
    security: Security,
    model_package: str | None = None,
) -> dict[str, Any]:
    """The CreateModel request: an image with a model archive, or a registered model package."""
    container: dict[str, Any] = (
        {"ModelPackageName": model_package}
        if model_package
        else {"Image": image, "ModelDataUrl": model_data}
    )
    if environment:
        container["Environment"] = environment
    request: dict[str, Any] = {
        "ModelName": name,
        "ExecutionRoleArn": role,
        "PrimaryContainer": container,
    }
    if security.vpc():
        request["VpcConfig"] = security.vpc()
    if security.network_isolation:
        request["EnableNetworkIsolation"] = True
    return security.tagged(request)


@dataclass
class Variant:
    """How one endpoint variant runs: instances, or serverless memory and concurrency."""

    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    serverless: tuple[int, int] | None = None  # (MemorySizeInMB, MaxConcurrency)

    def production(self, model: str) -> dict[str, Any]:
        variant: dict[str, Any] = {"VariantName": VARIANT, "ModelName": model}
        if self.serverless:
            memory, concurrency = self.serverless
            variant["ServerlessConfig"] = {"MemorySizeInMB": memory, "MaxConcurrency": concurrency}
        else:
            variant["InstanceType"] = self.instance_type
            variant["InitialInstanceCount"] = self.instance_count
            variant["InitialVariantWeight"] = 1.0
        return variant


SERVERLESS_MEMORY = (1024, 2048, 3072, 4096, 5120, 6144)


def serverless(value: str) -> tuple[int, int]:
    """``MEMORY_MB:MAX_CONCURRENCY`` of ``--serverless``, checked against SageMaker's limits."""
    memory, sep, concurrency = value.partition(":")
    if not sep or not memory.isdigit() or not concurrency.isdigit():
        raise LaunchError(f"--serverless {value!r}: write MEMORY_MB:MAX_CONCURRENCY, e.g. 2048:5")
    if int(memory) not in SERVERLESS_MEMORY:
        raise LaunchError(
            f"--serverless memory {memory}: one of {', '.join(map(str, SERVERLESS_MEMORY))} MB"
        )
    if not 1 <= int(concurrency) <= 200:
        raise LaunchError(f"--serverless concurrency {concurrency}: give 1 to 200")
    return int(memory), int(concurrency)


def endpoint_config_request(
    name: str,
    model: str,
    variant: Variant,
    capture_s3: str | None,
    capture_percent: int | None,
    security: Security,
) -> dict[str, Any]:
    """The CreateEndpointConfig request; data capture only when a percentage is given."""
    request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [variant.production(model)],
    }
    if security.kms_key and not variant.serverless:
        request["KmsKeyId"] = security.kms_key
    if capture_percent is not None:
        if not 1 <= capture_percent <= 100:
            raise LaunchError(
                f"--capture-percent {capture_percent}: give 1 to 100 (leave it out for no capture)"
            )
        if variant.serverless:
            raise LaunchError("serverless endpoints do not support data capture")
        capture: dict[str, Any] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": capture_percent,
            "DestinationS3Uri": capture_s3,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": ["text/csv"],
                "JsonContentTypes": ["application/json", "application/jsonlines"],
            },
        }
        if security.kms_key:
            capture["KmsKeyId"] = security.kms_key
        request["DataCaptureConfig"] = capture
    return security.tagged(request)


@dataclass
class Transform:
    """The settings of one transform job."""

    content_type: str
    accept: str | None = None
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    max_payload_mb: int = 6
    max_concurrent: int = 0

    def check(self) -> None:
        if not 1 <= self.max_payload_mb <= 100:
            raise LaunchError(f"--max-payload-mb {self.max_payload_mb}: give 1 to 100")
        if self.instance_count < 1:
            raise LaunchError(f"--instance-count {self.instance_count}: needs at least 1")
        if self.max_concurrent * self.max_payload_mb > 100:
            raise LaunchError("--max-concurrent x --max-payload-mb must stay within 100")
        if "header=present" in self.content_type.replace(" ", "").lower():
            print(
                "warning: a transform job sends a file's header in the first mini-batch only, "
                "and the content type to every one: with header=present the model reads the "
                "first row of each later mini-batch as a header. Send a header table as "
                "text/csv: the model recognizes its own header line.",
                file=sys.stderr,
                flush=True,
            )


def transform_request(
    name: str, model: str, input_s3: str, output_s3: str, settings: Transform, security: Security
) -> dict[str, Any]:
    """The CreateTransformJob request: many lines per request, one answer line per line."""
    settings.check()
    output: dict[str, str] = {"S3OutputPath": output_s3, "AssembleWith": "Line"}
    if settings.accept:
        output["Accept"] = settings.accept
    resources: dict[str, Any] = {
        "InstanceType": settings.instance_type,
        "InstanceCount": settings.instance_count,
    }
    if security.kms_key:
        output["KmsKeyId"] = security.kms_key
        resources["VolumeKmsKeyId"] = security.kms_key
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": settings.max_payload_mb,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_s3}},
            "ContentType": settings.content_type,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": output,
        "TransformResources": resources,
    }
    if settings.max_concurrent:
        request["MaxConcurrentTransforms"] = settings.max_concurrent
    return security.tagged(request)


def scaling_target(endpoint: str) -> dict[str, str]:
    """What Application Auto Scaling calls one endpoint variant's instance count."""
    return {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/{VARIANT}",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }


def scaling_requests(
    endpoint: str, low: int, high: int, target: float, security: Security
) -> tuple[dict[str, Any], dict[str, Any]]:
    """RegisterScalableTarget and PutScalingPolicy: target tracking on invocations per instance."""
    if not 1 <= low <= high:
        raise LaunchError(f"--min-instances {low} --max-instances {high}: need 1 <= min <= max")
    if target <= 0:
        raise LaunchError(f"--target-invocations {target:g}: give invocations per instance > 0")
    register: dict[str, Any] = {**scaling_target(endpoint), "MinCapacity": low, "MaxCapacity": high}
    if security.tags:  # Application Auto Scaling takes tags as a map
        register["Tags"] = {tag["Key"]: tag["Value"] for tag in security.tags}
    policy = {
        **scaling_target(endpoint),
        "PolicyName": f"{endpoint}-invocations",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(target),
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
            "ScaleInCooldown": SCALE_IN_COOLDOWN,
            "ScaleOutCooldown": SCALE_OUT_COOLDOWN,
        },
    }
    return register, policy
