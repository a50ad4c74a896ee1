"""The SageMaker API requests, built from plain values (no AWS call here).

Local runs build the same requests and lay them out as ``/opt/ml`` files, so what a
container sees locally is what SageMaker would give it.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LaunchError

ROOT = Path(__file__).resolve().parent.parent
METRIC_DEFINITIONS = ROOT / "container" / "xgb_container" / "metric_definitions.json"
CHANNELS = ("train", "validation", "test")
DISTRIBUTIONS = ("FullyReplicated", "ShardedByS3Key")
CHECKPOINT_DIR = "/opt/ml/checkpoints"


def unique_name(prefix: str) -> str:
    """``prefix-YYYYmmdd-HHMMSS-mmm``: a SageMaker name (at most 63 characters)."""
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f"-{int(now * 1000) % 1000:03d}"
    return f"{prefix[: 63 - len(stamp) - 1]}-{stamp}"


def check_name(name: str, what: str) -> str:
    if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name):
        raise LaunchError(
            f"{what} {name!r} is not a valid SageMaker name "
            "(letters, digits and hyphens, at most 63, starting with a letter or digit)"
        )
    return name


def stringify(value: Any) -> str:
    """A hyperparameter value as SageMaker passes it: always a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def hyperparameters(file: Path | None, pairs: list[str]) -> dict[str, str]:
    """Hyperparameters from a JSON object file, then ``KEY=VALUE`` flags (flags win)."""
    values: dict[str, Any] = {}
    if file is not None:
        try:
            loaded = json.loads(file.read_text())
        except OSError as exc:
            raise LaunchError(f"cannot read hyperparameters file {file}: {exc.strerror}") from None
        except ValueError as exc:
            raise LaunchError(f"hyperparameters file {file} is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise LaunchError(f"hyperparameters file {file} must hold a JSON object")
        values.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LaunchError(f"--hp {pair!r}: write KEY=VALUE, e.g. --hp num_round=100")
        values[key.strip()] = value
    result = {str(k): stringify(v) for k, v in values.items()}
    if len(result) > 100:
        raise LaunchError(f"{len(result)} hyperparameters; SageMaker takes at most 100")
    for key, value in result.items():
        if len(key) > 256 or len(value) > 2500:
            raise LaunchError(
                f"hyperparameter {key[:40]!r}: keys may have 256 characters, values 2,500"
            )
    return result


def environment(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` flags as a container environment."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LaunchError(f"--env {pair!r}: write KEY=VALUE")
        result[key] = value
    return result


def metric_definitions(path: Path | None = None) -> list[dict[str, str]]:
    """The MetricDefinitions the image ships (``container/xgb_container/metric_definitions.json``)."""
    path = path or METRIC_DEFINITIONS
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise LaunchError(
            f"metric definitions {path} not found; pass --metric-definitions FILE"
        ) from None
    except ValueError as exc:
        raise LaunchError(f"metric definitions {path} are not valid JSON: {exc}") from None
    if isinstance(raw, dict) and "MetricDefinitions" in raw:
        raw = raw["MetricDefinitions"]
    if isinstance(raw, dict):
        raw = [{"Name": k, "Regex": v} for k, v in raw.items()]
    if not isinstance(raw, list) or not all(
        isinstance(d, dict) and isinstance(d.get("Name"), str) and isinstance(d.get("Regex"), str)
        for d in raw
    ):
        raise LaunchError(f"metric definitions {path}: expected a list of {{Name, Regex}} objects")
    if len(raw) > 40:
        raise LaunchError(f"metric definitions {path}: {len(raw)} metrics, SageMaker takes 40")
    for d in raw:
        if len(d["Regex"]) > 500:
            raise LaunchError(f"metric {d['Name']}: regex longer than 500 characters")
        try:
            re.compile(d["Regex"])
        except re.error as exc:
            raise LaunchError(f"metric {d['Name']}: bad regex: {exc}") from None
    return [{"Name": d["Name"], "Regex": d["Regex"]} for d in raw]


@dataclass
class TrainingSpec:
    """Everything that defines one training job."""

    job_name: str
    image: str
    role: str
    channels: dict[str, str]  # channel name -> S3 URI (or local folder for local runs)
    output_s3: str
    hyperparameters: dict[str, str]
    metrics: list[dict[str, str]]
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = 1
    volume_gb: int = 30
    distribution: str = "FullyReplicated"
    content_type: str = "text/csv"
    checkpoint_s3: str | None = None
    spot: bool = False
    max_run: int = 86400
    max_wait: int | None = None
    environment: dict[str, str] = field(default_factory=dict)

    def channel_config(self, name: str) -> dict[str, str]:
        """How one channel reaches the containers; only train follows ``distribution``."""
        return {
            "ContentType": self.content_type,
            "TrainingInputMode": "File",
            "S3DistributionType": self.distribution if name == "train" else "FullyReplicated",
            "RecordWrapperType": "None",
        }

    def request(self) -> dict[str, Any]:
        """The CreateTrainingJob request."""
        stopping: dict[str, int] = {"MaxRuntimeInSeconds": self.max_run}
        if self.spot:
            stopping["MaxWaitTimeInSeconds"] = self.max_wait or self.max_run
        request: dict[str, Any] = {
            "TrainingJobName": self.job_name,
            "AlgorithmSpecification": {
                "TrainingImage": self.image,
                "TrainingInputMode": "File",
                "MetricDefinitions": self.metrics,
            },
            "RoleArn": self.role,
            "HyperParameters": self.hyperparameters,
            "InputDataConfig": [
                {
                    "ChannelName": name,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": uri,
                            "S3DataDistributionType": self.channel_config(name)[
                                "S3DistributionType"
                            ],
                        }
                    },
                    "ContentType": self.content_type,
                    "CompressionType": "None",
                    "RecordWrapperType": "None",
                    "InputMode": "File",
                }
                for name, uri in self.channels.items()
            ],
            "OutputDataConfig": {"S3OutputPath": self.output_s3},
            "ResourceConfig": {
                "InstanceType": self.instance_type,
                "InstanceCount": self.instance_count,
                "VolumeSizeInGB": self.volume_gb,
            },
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": self.spot,
        }
        if self.checkpoint_s3:
            request["CheckpointConfig"] = {"S3Uri": self.checkpoint_s3, "LocalPath": CHECKPOINT_DIR}
        if self.environment:
            request["Environment"] = self.environment
        return request

    def check(self) -> None:
        if self.instance_count < 1:
            raise LaunchError(f"--instance-count {self.instance_count}: needs at least 1")
        if self.distribution not in DISTRIBUTIONS:
            raise LaunchError(f"--distribution must be one of {', '.join(DISTRIBUTIONS)}")
        if "train" not in self.channels:
            raise LaunchError("the train channel is required (--train)")
        if self.spot and self.max_wait is not None and self.max_wait < self.max_run:
            raise LaunchError(
                f"--max-wait {self.max_wait} must be at least --max-run {self.max_run} "
                "(managed spot waits for capacity within the run time)"
            )
        if self.max_wait is not None and not self.spot:
            raise LaunchError("--max-wait applies to managed spot training: add --spot")


def model_request(
    name: str, image: str, role: str, model_data: str, environment: dict[str, str]
) -> dict[str, Any]:
    """The CreateModel request."""
    container: dict[str, Any] = {"Image": image, "ModelDataUrl": model_data}
    if environment:
        container["Environment"] = environment
    return {"ModelName": name, "ExecutionRoleArn": role, "PrimaryContainer": container}


def endpoint_config_request(
    name: str,
    model: str,
    instance_type: str,
    instance_count: int,
    capture_s3: str | None,
    capture_percent: int,
) -> dict[str, Any]:
    """The CreateEndpointConfig request; data capture when ``capture_s3`` is set."""
    request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": instance_type,
                "InitialInstanceCount": instance_count,
                "InitialVariantWeight": 1.0,
            }
        ],
    }
    if capture_s3:
        if not 0 <= capture_percent <= 100:
            raise LaunchError(f"--capture-percent {capture_percent}: give 0 to 100")
        request["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": capture_percent,
            "DestinationS3Uri": capture_s3,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": ["text/csv"],
                "JsonContentTypes": ["application/json", "application/jsonlines"],
            },
        }
    return request


def transform_request(
    name: str,
    model: str,
    input_s3: str,
    output_s3: str,
    content_type: str,
    accept: str | None,
    instance_type: str,
    instance_count: int,
    max_payload_mb: int,
    max_concurrent: int,
) -> dict[str, Any]:
    """The CreateTransformJob request: many lines per request, one answer line per line."""
    if not 1 <= max_payload_mb <= 100:
        raise LaunchError(f"--max-payload-mb {max_payload_mb}: give 1 to 100")
    output: dict[str, str] = {"S3OutputPath": output_s3, "AssembleWith": "Line"}
    if accept:
        output["Accept"] = accept
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": max_payload_mb,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_s3}},
            "ContentType": content_type,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": output,
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": instance_count},
    }
    if max_concurrent:
        if max_concurrent * max_payload_mb > 100:
            raise LaunchError("--max-concurrent x --max-payload-mb must stay within 100")
        request["MaxConcurrentTransforms"] = max_concurrent
    return request
