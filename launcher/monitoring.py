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
import time
from pathlib import Path
from typing import Any

from . import options, specs, values
from .aws import Aws
from .errors import LaunchError
from .monitor_requests import processing_request, schedule_request

BASELINE_FILES = ("statistics.json", "constraints.json")
# Error codes with which SageMaker refuses Model Monitor to an account that cannot use it.
UNAVAILABLE = ("AccessDeniedException", "UnknownOperationException", "NotImplemented", "501")


def arguments(p: argparse.ArgumentParser) -> None:
    """The subcommand's flags (the shared ones from ``options``)."""
    options.common(p)
    options.image_and_role(p)
    options.security(p)
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


# --- on SageMaker -----------------------------------------------------------------------


def _s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise LaunchError(f"{uri} is not an S3 URI (s3://BUCKET/PREFIX); or use --local")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def capture_prefix(aws: Aws, endpoint: str) -> str:
    """Where the endpoint's data capture writes (its config's destination + endpoint name)."""
    import botocore.exceptions

    if aws.dry_run:
        return f"<DataCaptureConfig.DestinationS3Uri of endpoint {endpoint}>/{endpoint}/"
    try:
        found = aws.call("sagemaker", "describe_endpoint", EndpointName=endpoint)
        config = aws.call(
            "sagemaker", "describe_endpoint_config", EndpointConfigName=found["EndpointConfigName"]
        )
    except botocore.exceptions.ClientError:
        raise LaunchError(f"endpoint {endpoint} not found") from None
    capture = config.get("DataCaptureConfig") or {}
    if not capture.get("EnableCapture", True) or "DestinationS3Uri" not in capture:
        raise LaunchError(
            f"endpoint {endpoint} has no data capture (deploy with --capture-percent N)"
        )
    return capture["DestinationS3Uri"].rstrip("/") + f"/{endpoint}/"


def model_baseline(aws: Aws, args: argparse.Namespace) -> dict[str, bytes | None]:
    """The baseline files of the model archive (with --dry-run only their names: a lookup)."""
    from .flow import model_data

    uri = model_data(aws, args)
    if aws.dry_run:
        print(f"baseline: {', '.join(BASELINE_FILES)} read from {uri} when sent", file=sys.stderr)
        return dict.fromkeys(BASELINE_FILES)
    bucket, key = _s3(uri)
    raw = aws.call("s3", "get_object", Bucket=bucket, Key=key)["Body"].read()
    return baseline_from_tar(raw, uri)


def _upload_baseline(
    aws: Aws, files: dict[str, bytes | None], bucket: str, prefix: str, security: specs.Security
) -> str:
    """PutObject per baseline file, SSE-KMS with --kms-key; with --dry-run without the body."""
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": security.kms_key}
    for name, raw in files.items():
        key = f"{prefix}/{name}"
        body = {} if raw is None else {"Body": raw}
        extra = sse if security.kms_key else {}
        aws.create(
            f"s3://{bucket}/{key}", "s3", "put_object", Bucket=bucket, Key=key, **body, **extra
        )
    return f"s3://{bucket}/{prefix}/"


def _try_schedule(aws: Aws, request: dict[str, Any]) -> bool:
    """Create the schedule; False (and why, on stderr) where Model Monitor is unavailable."""
    import botocore.exceptions

    from .aws import error_code, warn

    name = request["MonitoringScheduleName"]
    try:
        aws.create(
            f"monitoring schedule {name}", "sagemaker", "create_monitoring_schedule", **request
        )
    except botocore.exceptions.ClientError as exc:
        code = error_code(exc)
        message = str(exc)
        if code in UNAVAILABLE or "not available" in message or "no longer" in message:
            warn(f"Model Monitor is not available here ({code}); running a processing job instead")
            return False
        raise LaunchError(f"cannot create monitoring schedule {name}: {exc}") from None
    return True


def capture_source(aws: Aws, args: argparse.Namespace) -> str:
    """The S3 capture prefix: ``--capture``, or the endpoint's (a placeholder with --dry-run)."""
    if args.capture:
        _s3(args.capture)
        return args.capture
    if args.endpoint:
        return capture_prefix(aws, args.endpoint)
    raise LaunchError("monitor needs --endpoint NAME or --capture S3_PREFIX")


def run_remote(aws: Aws, args: argparse.Namespace) -> int:
    security = specs.security(args)
    capture = capture_source(aws, args)
    if args.schedule and not args.endpoint:
        raise LaunchError("--schedule needs --endpoint (Model Monitor reads its capture)")
    if args.ground_truth:
        _s3(args.ground_truth)
    name = values.check_name(args.job_name or values.unique_name("xgb-monitor"), "job name")
    bucket = args.bucket or aws.default_bucket
    image, role = aws.check_image(args.image), aws.check_role(args.role)
    files = model_baseline(aws, args)
    aws.ensure_bucket(bucket)
    prefix = f"{args.prefix}/monitoring/{name}"
    baseline = _upload_baseline(aws, files, bucket, f"{prefix}/baseline", security)
    output = args.output or f"s3://{bucket}/{prefix}/reports"
    if args.schedule:
        if args.ground_truth:
            from .aws import warn

            warn("a schedule monitors data quality; --ground-truth is used by processing jobs")
        request = schedule_request(args, image, role, baseline, output, security)
        if _try_schedule(aws, request):
            if not aws.dry_run:
                print(
                    f"monitoring schedule {args.schedule} created ({args.schedule_expression}); "
                    f"reports in {output}"
                )
            return 0
    inputs = {"endpoint": capture, "baseline": baseline}
    if args.ground_truth:
        inputs["groundtruth"] = args.ground_truth
    request = processing_request(name, args, image, role, inputs, output, security)
    aws.create(f"processing job {name}", "sagemaker", "create_processing_job", **request)
    print(f"{name}: processing job created over {capture}", file=sys.stderr)
    if aws.dry_run:
        return 0
    if args.no_wait:
        print(name)
        return 0
    return _follow(aws, name, output, args.poll)


def _follow(aws: Aws, name: str, output: str, poll: float) -> int:
    """Wait for the processing job; print its violations, or why it failed."""
    while True:
        job = aws.call("sagemaker", "describe_processing_job", ProcessingJobName=name)
        if job["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(poll)
    if job["ProcessingJobStatus"] != "Completed":
        reason = job.get("FailureReason") or job.get("ExitMessage") or "no reason given"
        state = job["ProcessingJobStatus"].lower()
        print(f"monitoring job {name} {state}: {reason}", file=sys.stderr)
        return 1
    return _print_s3_report(aws, output)


def _print_s3_report(aws: Aws, output: str) -> int:
    import botocore.exceptions

    bucket, key = _s3(output.rstrip("/") + "/")

    def read(name: str) -> Any:
        answer = aws.call("s3", "get_object", Bucket=bucket, Key=key + name)
        return json.loads(answer["Body"].read())

    try:
        violations = read("constraint_violations.json")["violations"]
    except botocore.exceptions.ClientError:
        print(
            f"the job completed but wrote no constraint_violations.json under {output}",
            file=sys.stderr,
        )
        return 1
    try:
        report = read("report.json")
    except botocore.exceptions.ClientError:
        report = None
    print_violations(violations, report)
    print(f"reports in {output}")
    return 0


def run_local(args: argparse.Namespace) -> int:
    from .local import monitoring

    return monitoring.run(args)


def _command():  # noqa: ANN202 - a Command, built late: launcher.cli imports the modules
    from .cli import Command

    return Command(
        "monitor",
        help="check captured traffic against the training baseline; print the violations",
        description=__doc__.split("\n\n")[1],
        arguments=arguments,
        remote=run_remote,
        local=run_local,
    )


COMMAND = _command()
