"""sagemaker_launch.py against moto in server mode: the exact requests, and the errors.

moto answers SageMaker calls without running anything: training and transform jobs are
Completed and endpoints InService at once, with moto's own placeholder metrics, and
sagemaker-runtime answers what the test queues. What these tests check is what the tool
sends and prints; the containers themselves are run by the --local tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import boto3
import pytest
from emulators import (
    ACCOUNT,
    LAUNCH_IMAGE,
    LAUNCH_REPO,
    LAUNCH_ROLE,
    REGION,
    ROOT_DIR,
    launch_moto,
)

LAUNCH = ROOT_DIR / "sagemaker_launch.py"
TEST_DIR = ROOT_DIR / "local_test" / "test_dir"
SHIPPED_METRICS = ROOT_DIR / "container" / "xgb_container" / "metric_definitions.json"
REPO = LAUNCH_REPO
IMAGE = LAUNCH_IMAGE
ROLE_ARN = LAUNCH_ROLE


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """moto with the role and the pushed image that a user would have."""
    with launch_moto(tmp_path_factory.mktemp("moto")) as server:
        yield server


def launch(moto, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LAUNCH), *args, "--poll", "0.1"],
        env=moto.env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def only(moto, target: str) -> dict:
    found = moto.requests(target)
    assert len(found) == 1, [r["headers"].get("X-Amz-Target") for r in moto.requests()]
    return found[0]["json"]


def client(moto, service: str):
    return boto3.client(service, **moto.client_kwargs())


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_train_uploads_local_data_and_sends_the_exact_request(moto):
    job = name("train")
    moto.record()
    done = launch(
        moto,
        "train",
        "--image", f"{REPO}:t1",
        "--role", "SageMakerRole",
        "--train", str(TEST_DIR / "input" / "data" / "train"),
        "--validation", str(TEST_DIR / "input" / "data" / "validation"),
        "--content-type", "text/csv; header=present",
        "--hyperparameters", str(TEST_DIR / "input" / "config" / "hyperparameters.json"),
        "--hp", "num_round=50",
        "--hp", "eta=0.1",
        "--instance-count", "2",
        "--instance-type", "ml.m5.xlarge",
        "--distribution", "ShardedByS3Key",
        "--checkpoint-s3", "s3://ckpt-bucket/credit",
        "--spot", "--max-run", "3600", "--max-wait", "7200",
        "--job-name", job,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    request = only(moto, "CreateTrainingJob")
    bucket = f"sagemaker-{REGION}-{ACCOUNT}"
    channels = {c["ChannelName"]: c for c in request["InputDataConfig"]}
    assert sorted(channels) == ["train", "validation"]
    for channel, distribution in (("train", "ShardedByS3Key"), ("validation", "FullyReplicated")):
        assert channels[channel]["DataSource"]["S3DataSource"] == {
            "S3DataType": "S3Prefix",
            "S3Uri": f"s3://{bucket}/xgb-container/{job}/input/{channel}/",
            "S3DataDistributionType": distribution,
        }
        assert channels[channel]["ContentType"] == "text/csv; header=present"
        assert channels[channel]["InputMode"] == "File"

    expected = json.loads((TEST_DIR / "input" / "config" / "hyperparameters.json").read_text())
    expected.update(num_round="50", eta="0.1")
    assert request["HyperParameters"] == expected
    assert all(isinstance(v, str) for v in request["HyperParameters"].values())
    assert request["AlgorithmSpecification"] == {
        "TrainingImage": IMAGE,
        "TrainingInputMode": "File",
        "MetricDefinitions": json.loads(SHIPPED_METRICS.read_text()),
    }
    assert request["RoleArn"] == ROLE_ARN
    assert request["ResourceConfig"] == {
        "InstanceType": "ml.m5.xlarge",
        "InstanceCount": 2,
        "VolumeSizeInGB": 30,
    }
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 3600,
        "MaxWaitTimeInSeconds": 7200,
    }
    assert request["CheckpointConfig"] == {
        "S3Uri": f"s3://ckpt-bucket/credit/{job}",  # each job its own prefix
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert request["EnableInterContainerTrafficEncryption"] is True  # on for 2 instances
    assert request["OutputDataConfig"] == {"S3OutputPath": f"s3://{bucket}/xgb-container/output"}

    s3 = client(moto, "s3")
    key = f"xgb-container/{job}/input/train/german_credit_train.csv"
    uploaded = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert (
        uploaded == (TEST_DIR / "input" / "data" / "train" / "german_credit_train.csv").read_bytes()
    )

    # moto completes every job at once and reports its own placeholder metric
    assert f"training job {job} completed" in done.stdout
    assert "metric train:progress = 100" in done.stdout
    assert f"model s3://{bucket}/xgb-container/output/{job}/output/model.tar.gz" in done.stdout
    assert "train has 1 file(s) for 2 instances" in done.stderr


def test_hyperparameter_values_are_sent_as_strings(moto, tmp_path):
    hp = tmp_path / "hp.json"
    hp.write_text(
        json.dumps(
            {"num_round": 10, "eta": 0.3, "verbose": True, "interaction_constraints": [[0, 1]]}
        )
    )
    moto.record()
    done = launch(
        moto, "train", "--image", IMAGE, "--role", ROLE_ARN, "--train", "s3://data/train/",
        "--hyperparameters", str(hp), "--hp", "max_depth=4", "--job-name", name("hp"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert only(moto, "CreateTrainingJob")["HyperParameters"] == {
        "num_round": "10",
        "eta": "0.3",
        "verbose": "true",
        "interaction_constraints": "[[0, 1]]",
        "max_depth": "4",
    }


def test_missing_image_is_refused_before_anything_is_created(moto):
    moto.record()
    done = launch(
        moto, "train", "--image", f"{REPO}:absent", "--role", "SageMakerRole",
        "--train", "s3://data/train/", "--hp", "num_round=5",
    )  # fmt: skip
    assert done.returncode == 2
    assert (
        f"image {ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{REPO}:absent not found in ECR"
        in done.stderr
    )
    assert not moto.requests("CreateTrainingJob")


def test_image_outside_ecr_or_region_is_refused(moto):
    done = launch(
        moto, "train", "--image", "127.0.0.1:5000/xgb:1", "--role", ROLE_ARN, "--train", "s3://d/t/"
    )
    assert done.returncode == 2
    assert "is not an ECR image URI" in done.stderr
    done = launch(
        moto, "train", "--image", IMAGE, "--role", ROLE_ARN, "--train", "s3://d/t/",
        "--region", "ap-southeast-2",
    )  # fmt: skip
    assert done.returncode == 2
    assert f"is in region {REGION} but the job runs in ap-southeast-2" in done.stderr


def test_missing_or_unknown_role_is_named(moto):
    done = launch(moto, "train", "--image", IMAGE, "--train", "s3://d/t/", SAGEMAKER_ROLE="")
    assert done.returncode == 2
    assert "no execution role" in done.stderr
    done = launch(moto, "train", "--image", IMAGE, "--role", "NoSuchRole", "--train", "s3://d/t/")
    assert done.returncode == 2
    assert f"role 'NoSuchRole' does not exist in account {ACCOUNT}" in done.stderr


def test_bad_or_missing_region_is_named(moto):
    done = launch(
        moto,
        "train",
        "--image",
        IMAGE,
        "--role",
        ROLE_ARN,
        "--train",
        "s3://d/t/",
        "--region",
        "eu-wset-1",
    )
    assert done.returncode == 2
    assert (
        "region 'eu-wset-1' is not a region where SageMaker runs (did you mean eu-west-1"
        in done.stderr
    )
    done = launch(moto, "cleanup", "--endpoint", "x", AWS_REGION="", AWS_DEFAULT_REGION="")
    assert done.returncode == 2
    assert "no AWS region" in done.stderr


def test_region_from_the_cli_configuration_is_used_for_every_call(moto, tmp_path):
    config = tmp_path / "config"
    config.write_text("[default]\nregion = ap-southeast-2\n")
    moto.record()
    done = launch(
        moto, "cleanup", "--endpoint", "nothing-here",
        AWS_REGION="", AWS_DEFAULT_REGION="", AWS_CONFIG_FILE=str(config),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    scopes = {
        r["headers"]["Authorization"].split("Credential=")[1].split("/")[2] for r in moto.requests()
    }
    assert scopes == {"ap-southeast-2"}


def test_spot_wait_shorter_than_run_is_refused(moto):
    done = launch(
        moto, "train", "--image", IMAGE, "--role", ROLE_ARN, "--train", "s3://d/t/",
        "--spot", "--max-run", "3600", "--max-wait", "600",
    )  # fmt: skip
    assert done.returncode == 2
    assert "--max-wait 600 must be at least --max-run 3600" in done.stderr


def test_deploy_invoke_and_cleanup(moto, tmp_path):
    job = name("fordeploy")
    assert launch(
        moto, "train", "--image", IMAGE, "--role", ROLE_ARN, "--train", "s3://d/t/",
        "--hp", "num_round=5", "--job-name", job,
    ).returncode == 0  # fmt: skip
    endpoint = name("credit")
    moto.record()
    done = launch(
        moto, "deploy", "--image", IMAGE, "--role", "SageMakerRole", "--training-job", job,
        "--name", endpoint, "--capture-percent", "25", "--env", "SAGEMAKER_INFERENCE_OUTPUT=probability",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == endpoint
    artifacts = client(moto, "sagemaker").describe_training_job(TrainingJobName=job)[
        "ModelArtifacts"
    ]
    version = only(moto, "CreateModel")["ModelName"]
    assert version.startswith(f"{endpoint}-v") and len(version) == len(endpoint) + 19
    assert only(moto, "CreateModel") == {
        "ModelName": version,
        "ExecutionRoleArn": ROLE_ARN,
        "PrimaryContainer": {
            "Image": IMAGE,
            "ModelDataUrl": artifacts["S3ModelArtifacts"],
            "Environment": {"SAGEMAKER_INFERENCE_OUTPUT": "probability"},
        },
    }
    config = only(moto, "CreateEndpointConfig")
    assert config["EndpointConfigName"] == version
    assert config["ProductionVariants"][0]["ModelName"] == version
    capture = config["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 25
    assert (
        capture["DestinationS3Uri"]
        == f"s3://sagemaker-{REGION}-{ACCOUNT}/xgb-container/capture/{endpoint}"
    )
    assert only(moto, "CreateEndpoint") == {
        "EndpointName": endpoint,
        "EndpointConfigName": version,
    }

    rows = tmp_path / "applicants.csv"
    rows.write_text("a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n")
    moto.queue_endpoint_results(["0.1\n0.2\n", "0.3\n0.4\n", "0.5\n"], "text/csv")
    moto.record()
    done = launch(
        moto, "invoke", "--endpoint", endpoint, "--input", str(rows),
        "--content-type", "text/csv; header=present", "--rows-per-request", "2", "--accept", "text/csv",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sent = moto.requests(path=f"/endpoints/{endpoint}/invocations")
    assert [r["text"] for r in sent] == ["a,b\n1,2\n3,4\n", "a,b\n5,6\n7,8\n", "a,b\n9,10\n"]
    assert {r["headers"]["Content-Type"] for r in sent} == {"text/csv; header=present"}
    assert done.stdout == "0.1\n0.2\n0.3\n0.4\n0.5\n"

    done = launch(moto, "cleanup", "--endpoint", endpoint)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"deleted endpoint {endpoint}",
        f"deleted endpoint config {version}",
        f"deleted model {version}",
    ]
    sm = client(moto, "sagemaker")
    assert endpoint not in [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]
    assert endpoint not in [m["ModelName"] for m in sm.list_models()["Models"]]
    again = launch(moto, "cleanup", "--endpoint", endpoint)
    assert again.returncode == 0
    assert f"endpoint {endpoint}: not found" in again.stdout


def test_deploy_captures_nothing_by_default_and_cleanup_of_a_half_made_deployment(moto):
    job = name("half")
    assert launch(
        moto, "train", "--image", IMAGE, "--role", ROLE_ARN, "--train", "s3://d/t/", "--job-name", job,
    ).returncode == 0  # fmt: skip
    endpoint = name("nocap")
    moto.record()
    done = launch(
        moto, "deploy", "--image", IMAGE, "--role", ROLE_ARN, "--training-job", job,
        "--name", endpoint,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "DataCaptureConfig" not in only(moto, "CreateEndpointConfig")  # capture is opt-in
    version = only(moto, "CreateModel")["ModelName"]
    client(moto, "sagemaker").delete_endpoint(EndpointName=endpoint)  # as if creation had failed
    done = launch(moto, "cleanup", "--endpoint", endpoint)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"endpoint {endpoint}: not found",
        f"deleted endpoint config {version}",
        f"deleted model {version}",
    ]


def test_batch_transform_request(moto, tmp_path):
    job = name("scored")
    rows = tmp_path / "applicants.csv"
    rows.write_text("1,2\n3,4\n")
    moto.record()
    done = launch(
        moto, "batch", "--image", IMAGE, "--role", ROLE_ARN, "--model-data", "s3://m/model.tar.gz",
        "--input", str(rows), "--accept", "text/csv", "--max-payload-mb", "10",
        "--instance-count", "2", "--job-name", job,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    bucket = f"sagemaker-{REGION}-{ACCOUNT}"
    assert only(moto, "CreateModel")["PrimaryContainer"]["ModelDataUrl"] == "s3://m/model.tar.gz"
    assert only(moto, "CreateTransformJob") == {
        "TransformJobName": job,
        "ModelName": job,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 10,
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{bucket}/xgb-container/{job}/batch-input/",
                }
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{bucket}/xgb-container/{job}/batch-output",
            "AssembleWith": "Line",
            "Accept": "text/csv",
        },
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 2},
    }
    assert f"transform job {job} completed" in done.stdout
    body = client(moto, "s3").get_object(
        Bucket=bucket, Key=f"xgb-container/{job}/batch-input/applicants.csv"
    )
    assert body["Body"].read() == b"1,2\n3,4\n"


def test_every_option_is_explained_in_help():
    for command in (
        "train", "tune", "deploy", "update", "rollback", "invoke", "batch", "register", "cleanup"
    ):  # fmt: skip
        done = subprocess.run(
            [sys.executable, str(LAUNCH), command, "--help"], capture_output=True, text=True
        )
        assert done.returncode == 0
        lines = done.stdout.split("options:", 1)[1].splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith("  -")]
        assert starts, done.stdout
        # every option line is followed by words, on its line or the next ones
        for here, after in zip(starts, [*starts[1:], len(lines)], strict=True):
            option = lines[here].split()[0]
            words = " ".join(lines[here:after]).split()
            flag_words = [w for w in words if w.startswith(("-", "[", "{")) or w.isupper()]
            assert len(words) - len(flag_words) >= 2, f"{command} {option} has no help"


def test_malformed_flags_and_files_are_named(moto, tmp_path):
    done = launch(
        moto,
        "train",
        "--image",
        IMAGE,
        "--role",
        ROLE_ARN,
        "--train",
        "s3://d/t/",
        "--hp",
        "num_round",
    )
    assert done.returncode == 2
    assert "--hp 'num_round': write KEY=VALUE" in done.stderr
    bad = tmp_path / "hp.json"
    bad.write_text("{num_round: 5}")
    done = launch(
        moto,
        "train",
        "--image",
        IMAGE,
        "--role",
        ROLE_ARN,
        "--train",
        "s3://d/t/",
        "--hyperparameters",
        str(bad),
    )
    assert done.returncode == 2
    assert f"hyperparameters file {bad} is not valid JSON" in done.stderr
    done = launch(
        moto, "deploy", "--image", IMAGE, "--role", ROLE_ARN, "--model-data", "s3://m/model.tar.gz",
        "--env", "NOEQUALS",
    )  # fmt: skip
    assert done.returncode == 2
    assert "--env 'NOEQUALS': write KEY=VALUE" in done.stderr
    done = launch(moto, "invoke", "--endpoint", "e", "--input", str(tmp_path / "absent.csv"))
    assert done.returncode == 2
    assert "cannot read" in done.stderr and "absent.csv" in done.stderr
    done = launch(
        moto,
        "train",
        "--image",
        IMAGE,
        "--role",
        ROLE_ARN,
        "--train",
        "s3://d/t/",
        "--job-name",
        "bad_name",
    )
    assert done.returncode == 2
    assert "job name 'bad_name' is not a valid SageMaker name" in done.stderr
