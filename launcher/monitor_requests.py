"""The requests of ``monitor`` on SageMaker: a processing job and a monitoring schedule.

Both run the image's ``monitor`` with the capture, the baseline and (for processing jobs)
ground truth under ``/opt/ml/processing``, with the run's ``specs.Security`` applied.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import specs

PROCESSING = "/opt/ml/processing"
CAPTURE_FORMAT = json.dumps(
    {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
)


def environment(args: argparse.Namespace, ground_truth: bool) -> dict[str, str]:
    """The BYOC environment the monitor reads, for paths inside the processing container."""
    env = {
        "dataset_format": CAPTURE_FORMAT,
        "dataset_source": f"{PROCESSING}/input/endpoint",
        "output_path": f"{PROCESSING}/output",
        "baseline_statistics": f"{PROCESSING}/baseline/statistics.json",
        "baseline_constraints": f"{PROCESSING}/baseline/constraints.json",
        "publish_cloudwatch_metrics": "Enabled" if args.cloudwatch else "Disabled",
    }
    if args.endpoint:
        env["sagemaker_endpoint_name"] = args.endpoint
    if args.start_time:
        env["start_time"] = args.start_time
    if args.end_time:
        env["end_time"] = args.end_time
    if ground_truth:
        env["ground_truth_source"] = f"{PROCESSING}/groundtruth"
    return env


def _cluster(args: argparse.Namespace, security: specs.Security) -> dict[str, Any]:
    cluster = {"InstanceCount": 1, "InstanceType": args.instance_type, "VolumeSizeInGB": 20}
    if security.kms_key:
        cluster["VolumeKmsKeyId"] = security.kms_key
    return {"ClusterConfig": cluster}


def _network(security: specs.Security) -> dict[str, Any]:
    """``NetworkConfig`` of a processing job or monitoring job definition (empty when default)."""
    network: dict[str, Any] = {}
    if security.network_isolation:
        network["EnableNetworkIsolation"] = True
    if security.vpc():
        network["VpcConfig"] = security.vpc()
    return {"NetworkConfig": network} if network else {}


def _kms(security: specs.Security) -> dict[str, str]:
    return {"KmsKeyId": security.kms_key} if security.kms_key else {}


def processing_request(
    name: str,
    args: argparse.Namespace,
    image: str,
    role: str,
    inputs: dict[str, str],
    output: str,
    security: specs.Security | None = None,
) -> dict[str, Any]:
    """The CreateProcessingJob request: capture, baseline and ground truth in, reports out."""
    security = security or specs.Security()
    local = {"endpoint": "input/endpoint", "baseline": "baseline", "groundtruth": "groundtruth"}
    request = {
        "ProcessingJobName": name,
        "RoleArn": role,
        "AppSpecification": {"ImageUri": image, "ContainerArguments": ["monitor"]},
        "ProcessingResources": _cluster(args, security),
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "ProcessingInputs": [
            {
                "InputName": kind,
                "S3Input": {
                    "S3Uri": uri,
                    "LocalPath": f"{PROCESSING}/{local[kind]}",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            }
            for kind, uri in inputs.items()
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "monitoring_report",
                    "S3Output": {
                        "S3Uri": output,
                        "LocalPath": f"{PROCESSING}/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ],
            **_kms(security),
        },
        "Environment": environment(args, "groundtruth" in inputs),
        **_network(security),
    }
    return security.tagged(request)


def schedule_request(
    args: argparse.Namespace,
    image: str,
    role: str,
    baseline: str,
    output: str,
    security: specs.Security | None = None,
) -> dict[str, Any]:
    """The CreateMonitoringSchedule request (Model Monitor sets the BYOC variables itself)."""
    security = security or specs.Security()
    report = {"S3Uri": output, "LocalPath": f"{PROCESSING}/output", "S3UploadMode": "EndOfJob"}
    definition = {
        "BaselineConfig": {
            "ConstraintsResource": {"S3Uri": baseline + "constraints.json"},
            "StatisticsResource": {"S3Uri": baseline + "statistics.json"},
        },
        "MonitoringInputs": [
            {
                "EndpointInput": {
                    "EndpointName": args.endpoint,
                    "LocalPath": f"{PROCESSING}/input/endpoint",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                }
            }
        ],
        "MonitoringOutputConfig": {
            "MonitoringOutputs": [{"S3Output": report}],
            **_kms(security),
        },
        "MonitoringResources": _cluster(args, security),
        "MonitoringAppSpecification": {"ImageUri": image, "ContainerArguments": ["monitor"]},
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        "Environment": {"publish_cloudwatch_metrics": "Enabled" if args.cloudwatch else "Disabled"},
        "RoleArn": role,
        **_network(security),
    }
    request = {
        "MonitoringScheduleName": args.schedule,
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": args.schedule_expression},
            "MonitoringJobDefinition": definition,
            "MonitoringType": "DataQuality",
        },
    }
    return security.tagged(request)
