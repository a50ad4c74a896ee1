"""How a finished job is told to the user; the same for SageMaker and for local runs.

Both give a description shaped like DescribeTrainingJob / DescribeTransformJob.
"""

from __future__ import annotations

import sys
from typing import Any

DONE = ("Completed", "Failed", "Stopped")


def status(name: str, state: str, detail: str | None = None) -> None:
    print(f"{name}: {state}" + (f" - {detail}" if detail else ""), file=sys.stderr, flush=True)


def failure(kind: str, description: dict[str, Any], state_key: str, name_key: str) -> int:
    reason = description.get("FailureReason") or "no FailureReason given"
    state = description[state_key].lower()
    print(f"{kind} {description[name_key]} {state}: {reason}", file=sys.stderr, flush=True)
    return 1


def training(description: dict[str, Any]) -> int:
    """Print the final metrics and the model of a finished training job; the exit status."""
    if description["TrainingJobStatus"] != "Completed":
        return failure("training job", description, "TrainingJobStatus", "TrainingJobName")
    print(f"training job {description['TrainingJobName']} completed")
    metrics = description.get("FinalMetricDataList") or []
    for metric in metrics:
        print(f"metric {metric['MetricName']} = {metric['Value']:g}")
    if not metrics:
        print("no final metrics were reported")
    billable = description.get("BillableTimeInSeconds")
    if billable is not None and description.get("TrainingTimeInSeconds"):
        print(f"billable seconds {billable} of {description['TrainingTimeInSeconds']} trained")
    print(f"model {description.get('ModelArtifacts', {}).get('S3ModelArtifacts', '?')}")
    return 0


def transform(description: dict[str, Any]) -> int:
    if description["TransformJobStatus"] != "Completed":
        return failure("transform job", description, "TransformJobStatus", "TransformJobName")
    print(f"transform job {description['TransformJobName']} completed")
    print(f"output {description['TransformOutput']['S3OutputPath']}")
    return 0
