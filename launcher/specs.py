"""What defines a training job, and the one place it is built from the flags.

Local runs build the same spec and lay it out as ``/opt/ml`` files, so what a container sees
locally is what SageMaker would give it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from . import values
from .errors import LaunchError

CHANNELS = ("train", "validation", "test")
DISTRIBUTIONS = ("FullyReplicated", "ShardedByS3Key")
CHECKPOINT_DIR = "/opt/ml/checkpoints"


@dataclass
class Security:
    """Encryption, network and tags: applied to every resource that takes them."""

    kms_key: str | None = None
    subnets: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)
    network_isolation: bool = False
    inter_container_encryption: bool = True
    tags: list[dict[str, str]] = field(default_factory=list)

    def check(self) -> None:
        if bool(self.subnets) != bool(self.security_groups):
            raise LaunchError(
                "a VPC needs both --subnets and --security-groups (SageMaker takes both or neither)"
            )
        if len(self.subnets) > 16 or len(self.security_groups) > 5:
            raise LaunchError("a VpcConfig takes at most 16 subnets and 5 security groups")

    def vpc(self) -> dict[str, list[str]] | None:
        if not self.subnets:
            return None
        return {"SecurityGroupIds": self.security_groups, "Subnets": self.subnets}

    def tagged(self, request: dict[str, Any]) -> dict[str, Any]:
        """``request`` with this run's tags (when there are any)."""
        return {**request, "Tags": self.tags} if self.tags else request


def security(args: argparse.Namespace) -> Security:
    """The Security of the flags (``options.security``); every subcommand has them."""
    found = Security(
        kms_key=getattr(args, "kms_key", None),
        subnets=list(getattr(args, "subnets", None) or []),
        security_groups=list(getattr(args, "security_groups", None) or []),
        network_isolation=bool(getattr(args, "network_isolation", False)),
        inter_container_encryption=not getattr(args, "no_inter_container_encryption", False),
        tags=values.tags(getattr(args, "tags", None) or []),
    )
    found.check()
    return found


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
    security: Security = field(default_factory=Security)

    def channel_config(self, name: str) -> dict[str, str]:
        """How one channel reaches the containers; only train follows ``distribution``."""
        return {
            "ContentType": self.content_type,
            "TrainingInputMode": "File",
            "S3DistributionType": self.distribution if name == "train" else "FullyReplicated",
            "RecordWrapperType": "None",
        }

    def input_channels(self) -> list[dict[str, Any]]:
        return [
            {
                "ChannelName": name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": self.channel_config(name)["S3DistributionType"],
                    }
                },
                "ContentType": self.content_type,
                "CompressionType": "None",
                "RecordWrapperType": "None",
                "InputMode": "File",
            }
            for name, uri in self.channels.items()
        ]

    def job_definition(self) -> dict[str, Any]:
        """The parts a training job and a tuning job's TrainingJobDefinition share."""
        stopping: dict[str, int] = {"MaxRuntimeInSeconds": self.max_run}
        if self.spot:
            stopping["MaxWaitTimeInSeconds"] = self.max_wait or self.max_run
        output: dict[str, str] = {"S3OutputPath": self.output_s3}
        resources: dict[str, Any] = {
            "InstanceType": self.instance_type,
            "InstanceCount": self.instance_count,
            "VolumeSizeInGB": self.volume_gb,
        }
        if self.security.kms_key:
            output["KmsKeyId"] = self.security.kms_key
            resources["VolumeKmsKeyId"] = self.security.kms_key
        request: dict[str, Any] = {
            "RoleArn": self.role,
            "InputDataConfig": self.input_channels(),
            "OutputDataConfig": output,
            "ResourceConfig": resources,
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": self.spot,
        }
        if self.security.vpc():
            request["VpcConfig"] = self.security.vpc()
        if self.security.network_isolation:
            request["EnableNetworkIsolation"] = True
        if self.instance_count > 1 and self.security.inter_container_encryption:
            request["EnableInterContainerTrafficEncryption"] = True
        if self.checkpoint_s3:
            request["CheckpointConfig"] = {"S3Uri": self.checkpoint_s3, "LocalPath": CHECKPOINT_DIR}
        if self.environment:
            request["Environment"] = self.environment
        return request

    def request(self) -> dict[str, Any]:
        """The CreateTrainingJob request."""
        request = {
            "TrainingJobName": self.job_name,
            "AlgorithmSpecification": {
                "TrainingImage": self.image,
                "TrainingInputMode": "File",
                "MetricDefinitions": self.metrics,
            },
            "HyperParameters": self.hyperparameters,
            **self.job_definition(),
        }
        return self.security.tagged(request)

    def check(self) -> None:
        if self.instance_count < 1:
            raise LaunchError(f"--instance-count {self.instance_count}: needs at least 1")
        if self.volume_gb < 1:
            raise LaunchError(f"--volume-size {self.volume_gb}: needs at least 1 GB")
        if self.distribution not in DISTRIBUTIONS:
            raise LaunchError(f"--distribution must be one of {', '.join(DISTRIBUTIONS)}")
        if "train" not in self.channels:
            raise LaunchError("the train channel is required (--train)")
        if self.max_run < 1:
            raise LaunchError(f"--max-run {self.max_run}: needs at least 1 second")
        if self.spot and self.max_wait is not None and self.max_wait < self.max_run:
            raise LaunchError(
                f"--max-wait {self.max_wait} must be at least --max-run {self.max_run} "
                "(managed spot waits for capacity within the run time)"
            )
        if self.max_wait is not None and not self.spot:
            raise LaunchError("--max-wait applies to managed spot training: add --spot")


def checkpoint_uri(args: argparse.Namespace, job: str) -> str | None:
    """``--checkpoint-s3`` with the job name appended (unless ``--checkpoint-shared``)."""
    base = args.checkpoint_s3
    if not base or getattr(args, "checkpoint_shared", False):
        return base
    return f"{base.rstrip('/')}/{job}"


def training_spec(
    args: argparse.Namespace, job: str, *, image: str, role: str, output: str
) -> TrainingSpec:
    """The one TrainingSpec of the shared training flags (``options.training``)."""
    spec = TrainingSpec(
        job_name=job,
        image=image,
        role=role,
        channels={c: getattr(args, c) for c in CHANNELS if getattr(args, c, None)},
        output_s3=output,
        hyperparameters=values.hyperparameters(args.hyperparameters, args.hp),
        metrics=values.metric_definitions(args.metric_definitions),
        instance_type=args.instance_type,
        instance_count=args.instance_count,
        volume_gb=args.volume_size,
        distribution=args.distribution,
        content_type=args.content_type,
        checkpoint_s3=checkpoint_uri(args, job),
        spot=args.spot,
        max_run=args.max_run,
        max_wait=args.max_wait,
        security=security(args),
    )
    spec.check()
    return spec
