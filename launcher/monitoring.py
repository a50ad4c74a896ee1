"""``sagemaker_launch.py monitor``: the image's ``monitor`` over an endpoint's captured traffic.

On SageMaker it is a monitoring schedule (``--schedule NAME``) where Model Monitor is open to
the account, otherwise (or without ``--schedule``) one processing job over the capture
prefix, whose violations are printed. With ``--local`` the image runs on the local Docker
engine over a local capture folder. Either way the baseline is the pair of files that
training put in the model's ``baseline/`` folder, taken out of model.tar.gz.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from .errors import LaunchError

BASELINE_FILES = ("statistics.json", "constraints.json")
PROCESSING = "/opt/ml/processing"
CAPTURE_FORMAT = json.dumps(
    {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
)
# Error codes with which SageMaker refuses Model Monitor to an account that cannot use it.
UNAVAILABLE = ("AccessDeniedException", "UnknownOperationException", "NotImplemented", "501")


def add_parser(commands, common, image_and_role) -> None:
    """Register the subcommand (``common`` and ``image_and_role`` add the shared options)."""
    p = commands.add_parser(
        "monitor",
        help="check captured traffic against the training baseline; print the violations",
        description=__doc__.split("\n\n")[1],
    )
    common(p)
    image_and_role(p)
    p.add_argument("--endpoint", help="endpoint whose capture is monitored")
    p.add_argument(
        "--capture",
        help="captured data: S3 prefix (default: the endpoint's DataCaptureConfig); "
        "with --local a local folder",
    )
    p.add_argument(
        "--model-data",
        help="model.tar.gz (S3 URI; with --local a file or model folder) holding baseline/",
    )
    p.add_argument("--training-job", help="take the model of this training job instead")
    p.add_argument("--ground-truth", help="ground-truth prefix or folder (model quality)")
    p.add_argument(
        "--output", help="report prefix or folder (default: under --bucket / --local-dir)"
    )
    p.add_argument("--start-time", help="period start, ISO 8601 (eventMetadata.inferenceTime)")
    p.add_argument("--end-time", help="period end, ISO 8601")
    p.add_argument("--schedule", metavar="NAME", help="create a monitoring schedule of this name")
    p.add_argument(
        "--schedule-expression",
        default="cron(0 * ? * * *)",
        help="when the schedule runs (default: hourly, %(default)s)",
    )
    p.add_argument("--instance-type", default="ml.m5.large", help="default: %(default)s")
    p.add_argument("--job-name", help="processing job name (default: xgb-monitor-TIMESTAMP)")
    p.add_argument("--cloudwatch", action="store_true", help="publish CloudWatch metrics")
    p.add_argument("--no-wait", action="store_true", help="return once the job is created")


def baseline_files(source: Path) -> dict[str, bytes]:
    """The two baseline files of a model folder or model.tar.gz."""
    if source.is_dir():
        found = {n: source / "baseline" / n for n in BASELINE_FILES}
        missing = [str(p) for p in found.values() if not p.is_file()]
        if missing:
            raise LaunchError(
                f"model folder {source} has no baseline ({missing[0]}); train with this image"
            )
        return {n: p.read_bytes() for n, p in found.items()}
    if not source.is_file():
        raise LaunchError(f"model {source} does not exist")
    return baseline_from_tar(source.read_bytes(), str(source))


def baseline_from_tar(raw: bytes, where: str) -> dict[str, bytes]:
    try:
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
            files = {}
            for name in BASELINE_FILES:
                member = members.get(f"baseline/{name}")
                if member is None:
                    raise LaunchError(f"{where} has no baseline/{name}; train with this image")
                files[name] = tar.extractfile(member).read()
            return files
    except tarfile.TarError as exc:
        raise LaunchError(f"{where} is not a tar archive: {exc}") from None


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


def print_violations(violations: list[dict[str, Any]], report: dict[str, Any] | None) -> None:
    if report:
        s = report["summary"]
        print(
            f"monitored {s['rows']} rows in {s['records']} records "
            f"({s['malformed_lines']} malformed lines)"
        )
    if not violations:
        print("no violations")
    for v in violations:
        print(f"{v['feature_name']}: {v['constraint_check_type']}: {v['description']}")


def run(args: argparse.Namespace) -> int:
    if args.local:
        return run_local(args)
    from .aws import Aws

    return run_remote(Aws.connect(args.region), args)


# --- on SageMaker -----------------------------------------------------------------------


def _s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise LaunchError(f"{uri} is not an S3 URI (s3://BUCKET/PREFIX); or use --local")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def capture_prefix(sm, endpoint: str) -> str:
    """Where the endpoint's data capture writes (its config's destination + endpoint name)."""
    import botocore.exceptions

    try:
        config_name = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
        config = sm.describe_endpoint_config(EndpointConfigName=config_name)
    except botocore.exceptions.ClientError:
        raise LaunchError(f"endpoint {endpoint} not found") from None
    capture = config.get("DataCaptureConfig") or {}
    if not capture.get("EnableCapture", True) or "DestinationS3Uri" not in capture:
        raise LaunchError(f"endpoint {endpoint} has no data capture (deploy without --no-capture)")
    return capture["DestinationS3Uri"].rstrip("/") + f"/{endpoint}/"


def model_archive(aws, args: argparse.Namespace) -> dict[str, bytes]:
    from . import remote

    uri = remote.model_data(aws, args)
    bucket, key = _s3(uri)
    raw = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return baseline_from_tar(raw, uri)


def processing_request(
    name: str, args: argparse.Namespace, image: str, role: str, inputs: dict[str, str], output: str
) -> dict[str, Any]:
    """The CreateProcessingJob request: capture, baseline and ground truth in, reports out."""
    local = {"endpoint": "input/endpoint", "baseline": "baseline", "groundtruth": "groundtruth"}
    return {
        "ProcessingJobName": name,
        "RoleArn": role,
        "AppSpecification": {"ImageUri": image, "ContainerArguments": ["monitor"]},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": args.instance_type,
                "VolumeSizeInGB": 20,
            }
        },
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
            ]
        },
        "Environment": environment(args, "groundtruth" in inputs),
    }


def schedule_request(
    args: argparse.Namespace, image: str, role: str, baseline: str, output: str
) -> dict[str, Any]:
    """The CreateMonitoringSchedule request (Model Monitor sets the BYOC variables itself)."""
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
            "MonitoringOutputs": [
                {
                    "S3Output": {
                        "S3Uri": output,
                        "LocalPath": f"{PROCESSING}/output",
                        "S3UploadMode": "EndOfJob",
                    }
                }
            ]
        },
        "MonitoringResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": args.instance_type,
                "VolumeSizeInGB": 20,
            }
        },
        "MonitoringAppSpecification": {"ImageUri": image, "ContainerArguments": ["monitor"]},
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        "Environment": {"publish_cloudwatch_metrics": "Enabled" if args.cloudwatch else "Disabled"},
        "RoleArn": role,
    }
    return {
        "MonitoringScheduleName": args.schedule,
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": args.schedule_expression},
            "MonitoringJobDefinition": definition,
            "MonitoringType": "DataQuality",
        },
    }


def _upload_baseline(aws, files: dict[str, bytes], bucket: str, prefix: str) -> str:
    s3 = aws.client("s3")
    for name, raw in files.items():
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=raw)
    return f"s3://{bucket}/{prefix}/"


def _try_schedule(aws, request: dict[str, Any]) -> bool:
    """Create the schedule; False (and why, on stderr) where Model Monitor is unavailable."""
    import botocore.exceptions

    from .aws import error_code, warn

    try:
        aws.client("sagemaker").create_monitoring_schedule(**request)
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        message = str(exc)
        if code in UNAVAILABLE or "not available" in message or "no longer" in message:
            warn(f"Model Monitor is not available here ({code}); running a processing job instead")
            return False
        raise LaunchError(
            f"cannot create monitoring schedule {request['MonitoringScheduleName']}: {exc}"
        ) from None
    return True


def run_remote(aws, args: argparse.Namespace) -> int:
    from . import specs

    sm = aws.client("sagemaker")
    if args.capture:
        capture = args.capture
    elif args.endpoint:
        capture = capture_prefix(sm, args.endpoint)
    else:
        raise LaunchError("monitor needs --endpoint NAME or --capture S3_PREFIX")
    _s3(capture)
    name = specs.check_name(args.job_name or specs.unique_name("xgb-monitor"), "job name")
    bucket = args.bucket or aws.default_bucket
    aws.ensure_bucket(bucket)
    image, role = aws.check_image(args.image), aws.check_role(args.role)
    baseline = _upload_baseline(
        aws, model_archive(aws, args), bucket, f"{args.prefix}/monitoring/{name}/baseline"
    )
    output = args.output or f"s3://{bucket}/{args.prefix}/monitoring/{name}/reports"
    if args.schedule:
        if not args.endpoint:
            raise LaunchError("--schedule needs --endpoint (Model Monitor reads its capture)")
        if args.ground_truth:
            from .aws import warn

            warn("a schedule monitors data quality; --ground-truth is used by processing jobs")
        if _try_schedule(aws, schedule_request(args, image, role, baseline, output)):
            print(
                f"monitoring schedule {args.schedule} created ({args.schedule_expression}); reports in {output}"
            )
            return 0
    inputs = {"endpoint": capture, "baseline": baseline}
    if args.ground_truth:
        _s3(args.ground_truth)
        inputs["groundtruth"] = args.ground_truth
    sm.create_processing_job(**processing_request(name, args, image, role, inputs, output))
    print(f"{name}: processing job created over {capture}", file=sys.stderr)
    if args.no_wait:
        print(name)
        return 0
    while True:
        job = sm.describe_processing_job(ProcessingJobName=name)
        if job["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(args.poll)
    if job["ProcessingJobStatus"] != "Completed":
        reason = job.get("FailureReason") or job.get("ExitMessage") or "no reason given"
        print(
            f"monitoring job {name} {job['ProcessingJobStatus'].lower()}: {reason}", file=sys.stderr
        )
        return 1
    return _print_s3_report(aws, output)


def _print_s3_report(aws, output: str) -> int:
    import botocore.exceptions

    bucket, key = _s3(output.rstrip("/") + "/")
    s3 = aws.client("s3")
    try:
        raw = s3.get_object(Bucket=bucket, Key=key + "constraint_violations.json")["Body"].read()
    except botocore.exceptions.ClientError:
        print(
            f"the job completed but wrote no constraint_violations.json under {output}",
            file=sys.stderr,
        )
        return 1
    try:
        report = json.loads(s3.get_object(Bucket=bucket, Key=key + "report.json")["Body"].read())
    except botocore.exceptions.ClientError:
        report = None
    print_violations(json.loads(raw)["violations"], report)
    print(f"reports in {output}")
    return 0


# --- on the local Docker engine ---------------------------------------------------------


def run_local(args: argparse.Namespace) -> int:
    from . import local

    if not args.capture or args.capture.startswith("s3://"):
        raise LaunchError("monitor --local needs --capture FOLDER (a local capture folder)")
    capture = Path(args.capture).resolve()
    if not capture.is_dir():
        raise LaunchError(f"capture folder {capture} does not exist")
    if not args.model_data:
        raise LaunchError("monitor --local needs --model-data (model folder or model.tar.gz)")
    files = baseline_files(Path(args.model_data))
    client = local.engine()
    image = local.check_image(client, args.image)
    work = Path(tempfile.mkdtemp(prefix="monitor-", dir=_ensure(args.local_dir)))
    output = Path(args.output).resolve() if args.output else work / "reports"
    output.mkdir(parents=True, exist_ok=True)
    (work / "baseline").mkdir()
    for name, raw in files.items():
        (work / "baseline" / name).write_bytes(raw)
    (work / "ml-output").mkdir()
    volumes = {
        str(capture): {"bind": f"{PROCESSING}/input/endpoint", "mode": "ro"},
        str(work / "baseline"): {"bind": f"{PROCESSING}/baseline", "mode": "ro"},
        str(output): {"bind": f"{PROCESSING}/output", "mode": "rw"},
        str(work / "ml-output"): {"bind": "/opt/ml/output", "mode": "rw"},
    }
    if args.ground_truth:
        truth = Path(args.ground_truth).resolve()
        if not truth.is_dir():
            raise LaunchError(f"ground-truth folder {truth} does not exist")
        volumes[str(truth)] = {"bind": f"{PROCESSING}/groundtruth", "mode": "ro"}
    env = environment(args, bool(args.ground_truth))
    container = client.containers.run(
        image,
        ["monitor"],
        detach=True,
        labels={local.LABEL: "monitor"},
        environment=env,
        volumes=volumes,
    )
    try:
        status = container.wait()["StatusCode"]
        logs = container.logs().decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    if status != 0:
        failure = work / "ml-output" / "failure"
        reason = failure.read_text().splitlines()[0] if failure.exists() else logs.strip()[-500:]
        print(f"monitor failed (exit {status}): {reason}", file=sys.stderr)
        return 1
    violations = json.loads((output / "constraint_violations.json").read_text())["violations"]
    print_violations(violations, json.loads((output / "report.json").read_text()))
    print(f"reports in {output}")
    return 0


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()
