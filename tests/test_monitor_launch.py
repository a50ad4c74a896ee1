"""``sagemaker_launch.py monitor``: against moto (processing jobs, S3, endpoints), botocore's
own validation and Stubber for Model Monitor's schedule API (moto has none: it answers
CreateMonitoringSchedule with HTTP 500, which must not pass for "unavailable"), and
``--local`` in Docker."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import boto3
import botocore.session
import botocore.validate
import pytest
from botocore.stub import Stubber
from emulators import ACCOUNT, REGION, ROOT_DIR, moto_server
from monitor_harness import START, capture_line, capture_path

from launcher import monitoring
from launcher.aws import Aws

LAUNCH = ROOT_DIR / "sagemaker_launch.py"
REPO = "xgb-container"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPO}:t1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        kwargs = server.client_kwargs()
        boto3.client("iam", **kwargs).create_role(
            RoleName="SageMakerRole", AssumeRolePolicyDocument=json.dumps(TRUST)
        )
        ecr = boto3.client("ecr", **kwargs)
        ecr.create_repository(repositoryName=REPO)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        }
        ecr.put_image(repositoryName=REPO, imageManifest=json.dumps(manifest), imageTag="t1")
        yield server


def launch(moto, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LAUNCH), *args, "--poll", "0.1"],
        env=moto.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def model_tar(model_dir: Path, with_baseline: bool = True) -> bytes:
    """model.tar.gz as SageMaker packs /opt/ml/model (members relative to the folder)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            relative = path.relative_to(model_dir)
            if with_baseline or relative.parts[0] != "baseline":
                tar.add(path, arcname=str(relative), recursive=False)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def endpoint(moto, german_model):
    """A model archive in S3 and an endpoint whose config captures to S3."""
    kwargs = moto.client_kwargs()
    s3 = boto3.client("s3", **kwargs)
    for bucket in ("models", "reports", "capture-bucket"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="models", Key="credit/model.tar.gz", Body=model_tar(german_model))
    s3.put_object(Bucket="models", Key="bare/model.tar.gz", Body=model_tar(german_model, False))
    sm = boto3.client("sagemaker", **kwargs)
    sm.create_model(
        ModelName="credit",
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://models/credit/model.tar.gz"},
    )
    for name, capture in (("credit", True), ("nocapture", False)):
        config = {
            "EndpointConfigName": name,
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "credit",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        }
        if capture:
            config["DataCaptureConfig"] = {
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": "s3://capture-bucket/capture",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            }
        sm.create_endpoint_config(**config)
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return german_model


def test_processing_job_over_the_endpoint_capture(moto, endpoint):
    s3 = boto3.client("s3", **moto.client_kwargs())
    # what the monitor container would upload at the end of the job
    violations = {
        "violations": [
            {
                "feature_name": "age_in_years",
                "constraint_check_type": "baseline_drift_check",
                "description": "PSI 0.9",
            }
        ]
    }
    s3.put_object(
        Bucket="reports", Key="run1/constraint_violations.json", Body=json.dumps(violations)
    )
    summary = {"summary": {"rows": 300, "records": 100, "malformed_lines": 1}}
    s3.put_object(Bucket="reports", Key="run1/report.json", Body=json.dumps(summary))
    moto.record()
    done = launch(
        moto, "monitor", "--image", f"{REPO}:t1", "--role", "SageMakerRole", "--endpoint", "credit",
        "--model-data", "s3://models/credit/model.tar.gz", "--output", "s3://reports/run1/",
        "--job-name", "monitor-run1", "--ground-truth", "s3://reports/truth/",
        "--start-time", "2026-11-30T09:00:00Z", "--end-time", "2026-11-30T10:00:00Z", "--cloudwatch",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [
        "monitored 300 rows in 100 records (1 malformed lines)",
        "age_in_years: baseline_drift_check: PSI 0.9",
        "reports in s3://reports/run1/",
    ]
    found = moto.requests("CreateProcessingJob")
    assert len(found) == 1
    request = found[0]["json"]
    model = botocore.session.get_session().get_service_model("sagemaker")
    botocore.validate.validate_parameters(
        request, model.operation_model("CreateProcessingJob").input_shape
    )
    assert request["AppSpecification"] == {"ImageUri": IMAGE, "ContainerArguments": ["monitor"]}
    assert request["RoleArn"] == ROLE_ARN
    inputs = {i["InputName"]: i["S3Input"] for i in request["ProcessingInputs"]}
    assert inputs["endpoint"]["S3Uri"] == "s3://capture-bucket/capture/credit/"
    assert inputs["endpoint"]["LocalPath"] == "/opt/ml/processing/input/endpoint"
    assert inputs["groundtruth"]["S3Uri"] == "s3://reports/truth/"
    bucket = f"sagemaker-{REGION}-{ACCOUNT}"
    baseline = f"s3://{bucket}/xgb-container/monitoring/monitor-run1/baseline/"
    assert inputs["baseline"]["S3Uri"] == baseline
    env = request["Environment"]
    assert env["dataset_source"] == inputs["endpoint"]["LocalPath"]
    assert env["baseline_statistics"] == "/opt/ml/processing/baseline/statistics.json"
    assert env["ground_truth_source"] == "/opt/ml/processing/groundtruth"
    assert env["start_time"] == "2026-11-30T09:00:00Z" and env["end_time"] == "2026-11-30T10:00:00Z"
    assert env["publish_cloudwatch_metrics"] == "Enabled"
    assert env["sagemaker_endpoint_name"] == "credit"
    assert json.loads(env["dataset_format"]) == {
        "sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}
    }
    output = request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    assert output["S3Uri"] == "s3://reports/run1/" and output["LocalPath"] == env["output_path"]
    for name in ("statistics.json", "constraints.json"):
        key = f"xgb-container/monitoring/monitor-run1/baseline/{name}"
        uploaded = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert uploaded == (endpoint / "baseline" / name).read_bytes()


def test_sent_requests_carry_the_security_flags(moto, endpoint):
    """Not only the dry run: what reaches AWS has the KMS key, VPC, isolation and tags."""
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    moto.record()
    done = launch(
        moto, "monitor", "--image", IMAGE, "--role", ROLE_ARN, "--endpoint", "credit",
        "--model-data", "s3://models/credit/model.tar.gz", "--job-name", "monitor-secure",
        "--kms-key", key, "--subnets", "subnet-1", "--security-groups", "sg-1",
        "--network-isolation", "--tags", "team=credit-risk", "--no-wait",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "monitor-secure"
    (request,) = [r["json"] for r in moto.requests("CreateProcessingJob")]
    assert request["ProcessingOutputConfig"]["KmsKeyId"] == key
    assert request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
    assert request["NetworkConfig"] == {
        "EnableNetworkIsolation": True,
        "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
    }
    assert request["Tags"] == [{"Key": "team", "Value": "credit-risk"}]
    s3 = boto3.client("s3", **moto.client_kwargs())
    bucket = f"sagemaker-{REGION}-{ACCOUNT}"
    for name in ("statistics.json", "constraints.json"):
        head = s3.head_object(
            Bucket=bucket, Key=f"xgb-container/monitoring/monitor-secure/baseline/{name}"
        )
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key


def args(**values) -> argparse.Namespace:
    base = {
        "endpoint": "credit", "schedule": "hourly", "schedule_expression": "cron(0 * ? * * *)",
        "instance_type": "ml.m5.large", "cloudwatch": True, "start_time": None, "end_time": None,
    }  # fmt: skip
    return argparse.Namespace(**{**base, **values})


def test_schedule_request_is_valid_for_sagemaker_and_sent_as_is():
    request = monitoring.schedule_request(
        args(), IMAGE, ROLE_ARN, "s3://b/base/", "s3://b/reports/"
    )
    client = boto3.client(
        "sagemaker", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    shape = client.meta.service_model.operation_model("CreateMonitoringSchedule").input_shape
    botocore.validate.validate_parameters(request, shape)  # raises on any wrong field
    definition = request["MonitoringScheduleConfig"]["MonitoringJobDefinition"]
    assert (
        definition["BaselineConfig"]["StatisticsResource"]["S3Uri"] == "s3://b/base/statistics.json"
    )
    assert definition["MonitoringAppSpecification"]["ContainerArguments"] == ["monitor"]
    assert definition["MonitoringInputs"][0]["EndpointInput"]["EndpointName"] == "credit"

    aws = Aws(boto3.Session(region_name=REGION), REGION, ACCOUNT)
    aws.client = lambda service: client  # every request goes through Aws.call to this client

    with Stubber(client) as stub:
        stub.add_response(
            "create_monitoring_schedule", {"MonitoringScheduleArn": "arn:aws:sagemaker:x"}, request
        )
        assert monitoring._try_schedule(aws, request) is True
        stub.add_client_error(
            "create_monitoring_schedule", "AccessDeniedException", "not open", 400
        )
        assert monitoring._try_schedule(aws, request) is False
        stub.add_client_error("create_monitoring_schedule", "ValidationException", "bad role", 400)
        with pytest.raises(monitoring.LaunchError, match="bad role"):
            monitoring._try_schedule(aws, request)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--endpoint", "nocapture", "--model-data", "s3://models/credit/model.tar.gz"],
            "has no data capture",
        ),
        (
            ["--endpoint", "ghost", "--model-data", "s3://models/credit/model.tar.gz"],
            "endpoint ghost not found",
        ),
        (
            ["--endpoint", "credit", "--model-data", "s3://models/bare/model.tar.gz"],
            "has no baseline/statistics.json",
        ),
        (["--model-data", "s3://models/credit/model.tar.gz"], "needs --endpoint NAME or --capture"),
        (
            ["--capture", "/local/folder", "--model-data", "s3://models/credit/model.tar.gz"],
            "is not an S3 URI",
        ),
    ],
)
def test_refusals_name_the_problem(moto, endpoint, extra, message):
    done = launch(moto, "monitor", "--image", IMAGE, "--role", ROLE_ARN, *extra)
    assert done.returncode == 2
    assert message in done.stderr


def test_baseline_files_from_folder_and_archive(german_model, tmp_path):
    from_folder = monitoring.baseline_files(german_model)
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(model_tar(german_model))
    assert monitoring.baseline_files(archive) == from_folder
    assert json.loads(from_folder["statistics.json"])["dataset"]["item_count"] == 700
    archive.write_bytes(b"not a tar")
    with pytest.raises(monitoring.LaunchError, match="is not a tar archive"):
        monitoring.baseline_files(archive)


@pytest.mark.docker
def test_local_monitor_runs_the_image_over_a_capture_folder(image, german_model, tmp_path):
    import pandas as pd

    table = pd.read_csv(ROOT_DIR / "local_test/test_dir/input/data/test/german_credit_test.csv")
    features = table.drop(columns=["creditability"])
    older = features.assign(age_in_years=features["age_in_years"] + 25)
    capture = tmp_path / "capture"
    lines = []
    for frame in (features, older, older):
        for j in range(0, len(frame), 5):
            body = frame.iloc[j : j + 5].to_csv(header=False, index=False)
            lines.append(capture_line(body, "text/csv", "0.3\n" * 5, "text/csv", when=START))
    lines.append("{broken")
    capture_path(capture, START).write_text("\n".join(lines) + "\n")
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(model_tar(german_model))
    done = subprocess.run(
        [sys.executable, str(LAUNCH), "monitor", "--local", "--image", image, "--capture", str(capture),
         "--model-data", str(archive), "--output", str(tmp_path / "reports"), "--local-dir", str(tmp_path / "jobs")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "monitored 450 rows in 90 records (1 malformed lines)"
    assert "age_in_years: baseline_drift_check: PSI" in done.stdout
    assert (tmp_path / "reports" / "drift-age_in_years.png").is_file()
    # bad configuration: the reason, not a stack trace
    done = subprocess.run(
        [sys.executable, str(LAUNCH), "monitor", "--local", "--image", image, "--capture", str(tmp_path / "reports"),
         "--model-data", str(archive), "--local-dir", str(tmp_path / "jobs")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 1
    assert "no captured rows to monitor" in done.stderr
