"""``--dry-run`` on every subcommand: the requests printed are what would be sent, and valid.

Each line is checked against botocore's service model (``ParamValidator`` with the operation's
input shape), with no credentials and an endpoint that nothing answers on, so that a request
that would be sent fails the test. The flag table then proves every flag reaches its field:
with the flag the field holds the value, without it it does not.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator
from emulators import ROOT_DIR, free_port

sys.path.insert(0, str(ROOT_DIR))
from launcher import cli  # noqa: E402

TRAIN = str(ROOT_DIR / "local_test" / "test_dir" / "input" / "data" / "train")
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
IMAGE = "xgb-container:v1"
MODEL = "s3://bank-models/credit/model.tar.gz"
PACKAGE = "arn:aws:sagemaker:eu-west-1:111122223333:model-package/credit/3"


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No credentials, no configuration, and an AWS endpoint where nothing listens."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("SAGEMAKER_ROLE", raising=False)


@functools.cache
def service_model(name: str):  # noqa: ANN201 - botocore ServiceModel
    return botocore.session.get_session().get_service_model(name)


def validate(line: dict[str, Any]) -> None:
    """Fail unless ``line`` is a request botocore's model of the service accepts."""
    assert set(line) == {"service", "operation", "params"}, line
    model = service_model(line["service"])
    shape = model.operation_model(line["operation"]).input_shape
    report = ParamValidator().validate(line["params"], shape)
    assert not report.has_errors(), f"{line['operation']}: {report.generate_report()}"


def dry(capsys, *argv: str) -> list[dict[str, Any]]:
    """Run with --dry-run; every stdout line parsed and validated."""
    capsys.readouterr()
    status = cli.main([*argv, "--dry-run", "--region", "eu-west-1"])
    out, err = capsys.readouterr()
    assert status == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines, f"no request printed: {err}"
    for line in lines:
        validate(line)
    return lines


TRAIN_ARGS = ("train", "--image", IMAGE, "--role", "SageMakerRole", "--train", "s3://bank/train/")
TUNE_ARGS = ("tune", "--image", IMAGE, "--role", "SageMakerRole", "--train", "s3://bank/train/",
             "--validation", "s3://bank/validation/", "--range", "eta=0.01:0.3:log")  # fmt: skip
DEPLOY_ARGS = ("deploy", "--image", IMAGE, "--role", "SageMakerRole", "--model-data", MODEL,
               "--name", "credit")  # fmt: skip
UPDATE_ARGS = ("update", "--endpoint", "credit", "--image", IMAGE, "--role", "SageMakerRole",
               "--model-data", MODEL)  # fmt: skip
BATCH_ARGS = ("batch", "--image", IMAGE, "--role", "SageMakerRole", "--model-data", MODEL,
              "--input", "s3://bank/applicants/", "--content-type", "text/csv")  # fmt: skip
REGISTER_ARGS = ("register", "--training-job", "credit-job", "--group", "credit", "--image", IMAGE)
MONITOR_ARGS = ("monitor", "--image", IMAGE, "--role", "SageMakerRole", "--endpoint", "credit",
                "--model-data", MODEL)  # fmt: skip
SCHEDULE_ARGS = (*MONITOR_ARGS, "--schedule", "hourly")


def test_bank_ready_training_prints_uploads_and_the_job(capsys):
    lines = dry(
        capsys, "train", "--image", IMAGE, "--role", "SageMakerRole", "--train", TRAIN,
        "--validation", "s3://bank/validation/", "--instance-count", "2", "--spot",
        "--checkpoint-s3", "s3://bank-ckpt/credit", "--kms-key", KEY, "--subnets", "subnet-1",
        "subnet-2", "--security-groups", "sg-1", "--tags", "team=credit-risk", "--job-name", "credit-1",
    )  # fmt: skip
    assert [(x["service"], x["operation"]) for x in lines] == [
        ("s3", "PutObject"),
        ("sagemaker", "CreateTrainingJob"),
    ]
    upload = lines[0]["params"]
    assert upload == {
        "Bucket": "sagemaker-eu-west-1-<ACCOUNT>",
        "Key": "xgb-container/credit-1/input/train/german_credit_train.csv",
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": KEY,
    }
    job = lines[1]["params"]
    assert job["RoleArn"] == "arn:aws:iam::<ACCOUNT>:role/SageMakerRole"
    assert job["AlgorithmSpecification"]["TrainingImage"] == (
        "<ACCOUNT>.dkr.ecr.eu-west-1.amazonaws.com/xgb-container:v1"
    )
    assert job["VpcConfig"] == {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1", "subnet-2"]}
    assert job["EnableInterContainerTrafficEncryption"] is True
    assert job["CheckpointConfig"]["S3Uri"] == "s3://bank-ckpt/credit/credit-1"


def test_every_subcommand_that_calls_aws_has_a_valid_dry_run(capsys):
    runs = {
        "train": TRAIN_ARGS,
        "tune": TUNE_ARGS,
        "deploy": (*DEPLOY_ARGS, "--min-instances", "1", "--max-instances", "3",
                   "--capture-percent", "5", "--kms-key", KEY, "--tags", "a=b"),
        "update": (*UPDATE_ARGS, "--canary-percent", "10", "--rollback-alarm", "errors"),
        "rollback": ("rollback", "--endpoint", "credit"),
        "invoke": ("invoke", "--endpoint", "credit", "--input", TRAIN + "/german_credit_train.csv",
                   "--content-type", "text/csv; header=present", "--rows-per-request", "300"),
        "batch": (*BATCH_ARGS, "--kms-key", KEY),
        "register": REGISTER_ARGS,
        "cleanup": ("cleanup", "--endpoint", "credit", "--model", "old"),
        "monitor": (*MONITOR_ARGS, "--kms-key", KEY, "--tags", "a=b", "--subnets", "subnet-1",
                    "--security-groups", "sg-1", "--network-isolation", "--ground-truth", "s3://b/t/"),
    }  # fmt: skip
    names = {c.name for c in cli.commands()}
    assert names == set(runs), "a new subcommand needs its dry run here"
    seen = {command: [x["operation"] for x in dry(capsys, *argv)] for command, argv in runs.items()}
    assert seen["deploy"] == [
        "CreateModel", "CreateEndpointConfig", "CreateEndpoint",
        "RegisterScalableTarget", "PutScalingPolicy",
    ]  # fmt: skip
    assert seen["update"] == ["CreateModel", "CreateEndpointConfig", "UpdateEndpoint"]
    assert seen["invoke"] == ["InvokeEndpoint"] * 3
    assert seen["cleanup"] == [
        "DeregisterScalableTarget", "DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel",
        "DeleteModel",
    ]  # fmt: skip
    assert seen["register"] == ["PutObject", "CreateModelPackageGroup", "CreateModelPackage"]
    assert seen["monitor"] == ["PutObject", "PutObject", "CreateProcessingJob"]


def test_monitor_dry_run_names_its_lookups_and_uploads_no_body(capsys):
    """The capture prefix and the model's baseline are lookups: placeholders, nothing read."""
    argv = [*MONITOR_ARGS, "--training-job", "credit-job", "--model-data", "", "--job-name", "m-1",
            "--kms-key", KEY, "--dry-run", "--region", "eu-west-1"]  # fmt: skip
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    for line in lines:
        validate(line)
    uploads = [x["params"] for x in lines if x["operation"] == "PutObject"]
    keys = [u["Key"] for u in uploads]
    assert keys == [f"xgb-container/monitoring/m-1/baseline/{n}"
                    for n in ("statistics.json", "constraints.json")]  # fmt: skip
    assert all("Body" not in u and u["ServerSideEncryption"] == "aws:kms" for u in uploads)
    job = last(lines, "CreateProcessingJob")
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in job["ProcessingInputs"]}
    assert inputs == {
        "endpoint": "<DataCaptureConfig.DestinationS3Uri of endpoint credit>/credit/",
        "baseline": "s3://sagemaker-eu-west-1-<ACCOUNT>/xgb-container/monitoring/m-1/baseline/",
    }
    assert "<S3ModelArtifacts of training job credit-job>" in err
    schedule = dry(capsys, *SCHEDULE_ARGS, "--job-name", "m-1")
    assert [x["operation"] for x in schedule] == [
        "PutObject",
        "PutObject",
        "CreateMonitoringSchedule",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--capture", "s3://bank/cap/", "--schedule", "hourly"), "--schedule needs --endpoint"),
        (("--capture", "cap/folder"), "is not an S3 URI"),
        (("--endpoint", "credit", "--ground-truth", "truth/"), "is not an S3 URI"),
        ((), "monitor needs --endpoint NAME or --capture"),
    ],
)
def test_monitor_refusals_come_before_any_request(capsys, argv, message):
    base = ("monitor", "--image", IMAGE, "--role", "SageMakerRole", "--model-data", MODEL)
    assert cli.main([*base, *argv, "--dry-run", "--region", "eu-west-1"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err


def test_the_validator_catches_a_malformed_request():
    with pytest.raises(AssertionError, match="InstanceCount"):
        validate(
            {
                "service": "sagemaker",
                "operation": "CreateTransformJob",
                "params": {
                    "TransformJobName": "j",
                    "ModelName": "m",
                    "TransformInput": {
                        "DataSource": {
                            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/"}
                        }
                    },
                    "TransformOutput": {"S3OutputPath": "s3://b/o"},
                    "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": "2"},
                },
            }
        )


def last(lines: list[dict], operation: str) -> dict[str, Any]:
    found = [x["params"] for x in lines if x["operation"] == operation]
    assert found, f"no {operation} in {[x['operation'] for x in lines]}"
    return found[-1]


Pick = Callable[[list[dict]], Any]


def op(operation: str, *path: str | int) -> Pick:
    def pick(lines: list[dict]) -> Any:
        if not any(x["operation"] == operation for x in lines):
            return None
        value: Any = last(lines, operation)
        for step in path:
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                return None
        return value

    return pick


TRAINING = "CreateTrainingJob"
TUNING = "CreateHyperParameterTuningJob"
HPO_CONFIG = (TUNING, "HyperParameterTuningJobConfig")
HPO_JOB = (TUNING, "TrainingJobDefinition")
VARIANT = ("CreateEndpointConfig", "ProductionVariants", 0)
BLUE_GREEN = ("UpdateEndpoint", "DeploymentConfig", "BlueGreenUpdatePolicy")
ROUTING = (*BLUE_GREEN, "TrafficRoutingConfiguration")
SCALING = ("PutScalingPolicy", "TargetTrackingScalingPolicyConfiguration")
PROCESSING = "CreateProcessingJob"
SCHEDULE = "CreateMonitoringSchedule"
MONITOR_JOB = (SCHEDULE, "MonitoringScheduleConfig", "MonitoringJobDefinition")
TAGS = [{"Key": "team", "Value": "credit-risk"}]
VPC = {"SecurityGroupIds": ["sg-9"], "Subnets": ["subnet-9"]}

# (base command, extra flags, where the value lands, the value)
FLAGS = [
    (TRAIN_ARGS, ["--image", "other:2"], op(TRAINING, "AlgorithmSpecification", "TrainingImage"),
     "<ACCOUNT>.dkr.ecr.eu-west-1.amazonaws.com/other:2"),
    (TRAIN_ARGS, ["--role", "arn:aws:iam::111122223333:role/Bank"], op(TRAINING, "RoleArn"),
     "arn:aws:iam::111122223333:role/Bank"),
    (TRAIN_ARGS, ["--validation", "s3://bank/v/"], op(TRAINING, "InputDataConfig", 1, "DataSource", "S3DataSource", "S3Uri"), "s3://bank/v/"),
    (TRAIN_ARGS, ["--test", "s3://bank/t2/"], op(TRAINING, "InputDataConfig", 1, "ChannelName"), "test"),
    (TRAIN_ARGS, ["--content-type", "text/libsvm"], op(TRAINING, "InputDataConfig", 0, "ContentType"), "text/libsvm"),
    (TRAIN_ARGS, ["--distribution", "ShardedByS3Key"], op(TRAINING, "InputDataConfig", 0, "DataSource", "S3DataSource", "S3DataDistributionType"), "ShardedByS3Key"),
    (TRAIN_ARGS, ["--instance-type", "ml.c5.2xlarge"], op(TRAINING, "ResourceConfig", "InstanceType"), "ml.c5.2xlarge"),
    (TRAIN_ARGS, ["--instance-count", "3"], op(TRAINING, "ResourceConfig", "InstanceCount"), 3),
    (TRAIN_ARGS, ["--instance-count", "2"], op(TRAINING, "EnableInterContainerTrafficEncryption"), True),
    ((*TRAIN_ARGS, "--instance-count", "2"), ["--no-inter-container-encryption"], op(TRAINING, "EnableInterContainerTrafficEncryption"), None),
    ((*TUNE_ARGS, "--instance-count", "2"), ["--no-inter-container-encryption"], op(*HPO_JOB, "EnableInterContainerTrafficEncryption"), None),
    (TRAIN_ARGS, ["--volume-size", "77"], op(TRAINING, "ResourceConfig", "VolumeSizeInGB"), 77),
    (TRAIN_ARGS, ["--hp", "max_depth=4"], op(TRAINING, "HyperParameters", "max_depth"), "4"),
    (TRAIN_ARGS, ["--hyperparameters", str(ROOT_DIR / "local_test/test_dir/input/config/hyperparameters.json")],
     op(TRAINING, "HyperParameters", "label_column"), "creditability"),
    (TRAIN_ARGS, ["--output-s3", "s3://bank/out"], op(TRAINING, "OutputDataConfig", "S3OutputPath"), "s3://bank/out"),
    (TRAIN_ARGS, ["--checkpoint-s3", "s3://c/k", "--job-name", "j1"], op(TRAINING, "CheckpointConfig", "S3Uri"), "s3://c/k/j1"),
    (TRAIN_ARGS, ["--checkpoint-s3", "s3://c/k", "--checkpoint-shared"], op(TRAINING, "CheckpointConfig", "S3Uri"), "s3://c/k"),
    (TRAIN_ARGS, ["--spot"], op(TRAINING, "EnableManagedSpotTraining"), True),
    (TRAIN_ARGS, ["--max-run", "600"], op(TRAINING, "StoppingCondition", "MaxRuntimeInSeconds"), 600),
    (TRAIN_ARGS, ["--spot", "--max-wait", "99999"], op(TRAINING, "StoppingCondition", "MaxWaitTimeInSeconds"), 99999),
    (TRAIN_ARGS, ["--job-name", "credit-77"], op(TRAINING, "TrainingJobName"), "credit-77"),
    (TRAIN_ARGS, ["--bucket", "bank-ml", "--train", TRAIN], op("PutObject", "Bucket"), "bank-ml"),
    (TRAIN_ARGS, ["--prefix", "risk", "--train", TRAIN, "--job-name", "j"], op("PutObject", "Key"), "risk/j/input/train/german_credit_train.csv"),
    (TRAIN_ARGS, ["--kms-key", KEY], op(TRAINING, "OutputDataConfig", "KmsKeyId"), KEY),
    (TRAIN_ARGS, ["--kms-key", KEY], op(TRAINING, "ResourceConfig", "VolumeKmsKeyId"), KEY),
    (TRAIN_ARGS, ["--kms-key", KEY, "--train", TRAIN], op("PutObject", "SSEKMSKeyId"), KEY),
    (TRAIN_ARGS, ["--subnets", "subnet-9", "--security-groups", "sg-9"], op(TRAINING, "VpcConfig"), VPC),
    (TRAIN_ARGS, ["--network-isolation"], op(TRAINING, "EnableNetworkIsolation"), True),
    (TRAIN_ARGS, ["--tags", "team=credit-risk"], op(TRAINING, "Tags"), TAGS),
    (TRAIN_ARGS, ["--metric-definitions", str(ROOT_DIR / "tests" / "data" / "launch_metrics.json")],
     op(TRAINING, "AlgorithmSpecification", "MetricDefinitions", 0, "Name"), "validation:custom"),
    (TUNE_ARGS, ["--range", "max_depth=3:9"], op(*HPO_CONFIG, "ParameterRanges", "IntegerParameterRanges", 0),
     {"Name": "max_depth", "MinValue": "3", "MaxValue": "9", "ScalingType": "Auto"}),
    (TUNE_ARGS, ["--range", "alpha=0:2"], op(*HPO_CONFIG, "ParameterRanges", "IntegerParameterRanges", 0, "Name"), "alpha"),
    (TUNE_ARGS, ["--range", "gamma=0.5:4"], op(*HPO_CONFIG, "ParameterRanges", "ContinuousParameterRanges", 1, "Name"), "gamma"),
    (TUNE_ARGS, ["--range", "grow_policy=depthwise,lossguide"], op(*HPO_CONFIG, "ParameterRanges", "CategoricalParameterRanges", 0),
     {"Name": "grow_policy", "Values": ["depthwise", "lossguide"]}),
    (TUNE_ARGS, ["--range", "alpha=1:100:log"], op(*HPO_CONFIG, "ParameterRanges", "IntegerParameterRanges", 0, "ScalingType"), "Logarithmic"),
    (TUNE_ARGS, ["--objective", "validation:logloss"], op(*HPO_CONFIG, "HyperParameterTuningJobObjective"),
     {"Type": "Minimize", "MetricName": "validation:logloss"}),
    (TUNE_ARGS, ["--objective-type", "Minimize"], op(*HPO_CONFIG, "HyperParameterTuningJobObjective", "Type"), "Minimize"),
    (TUNE_ARGS, ["--max-jobs", "40"], op(*HPO_CONFIG, "ResourceLimits", "MaxNumberOfTrainingJobs"), 40),
    (TUNE_ARGS, ["--max-parallel", "5"], op(*HPO_CONFIG, "ResourceLimits", "MaxParallelTrainingJobs"), 5),
    (TUNE_ARGS, ["--strategy", "Random"], op(*HPO_CONFIG, "Strategy"), "Random"),
    (TUNE_ARGS, ["--strategy", "Hyperband"], op(*HPO_CONFIG, "TrainingJobEarlyStoppingType"), "Off"),
    (TUNE_ARGS, ["--seed", "11"], op(*HPO_CONFIG, "RandomSeed"), 11),
    (TUNE_ARGS, ["--warm-start", "tune-a", "tune-b"], op(TUNING, "WarmStartConfig", "ParentHyperParameterTuningJobs"),
     [{"HyperParameterTuningJobName": "tune-a"}, {"HyperParameterTuningJobName": "tune-b"}]),
    (TUNE_ARGS, ["--hp", "num_round=300", "--hp", "eta=0.1"], op(*HPO_JOB, "StaticHyperParameters"), {"num_round": "300"}),
    (TUNE_ARGS, ["--kms-key", KEY], op(*HPO_JOB, "OutputDataConfig", "KmsKeyId"), KEY),
    (TUNE_ARGS, ["--instance-count", "2"], op(*HPO_JOB, "EnableInterContainerTrafficEncryption"), True),
    (TUNE_ARGS, ["--subnets", "subnet-9", "--security-groups", "sg-9"], op(*HPO_JOB, "VpcConfig"), VPC),
    (TUNE_ARGS, ["--tags", "team=credit-risk"], op(TUNING, "Tags"), TAGS),
    (TUNE_ARGS, ["--job-name", "tune-credit"], op(TUNING, "HyperParameterTuningJobName"), "tune-credit"),
    (DEPLOY_ARGS, ["--instance-type", "ml.c5.large"], op(*VARIANT, "InstanceType"), "ml.c5.large"),
    (DEPLOY_ARGS, ["--instance-count", "2"], op(*VARIANT, "InitialInstanceCount"), 2),
    (DEPLOY_ARGS, ["--serverless", "2048:5"], op(*VARIANT, "ServerlessConfig"), {"MemorySizeInMB": 2048, "MaxConcurrency": 5}),
    (DEPLOY_ARGS, ["--capture-percent", "7"], op("CreateEndpointConfig", "DataCaptureConfig", "InitialSamplingPercentage"), 7),
    (DEPLOY_ARGS, ["--capture-percent", "7", "--capture-s3", "s3://bank/cap"], op("CreateEndpointConfig", "DataCaptureConfig", "DestinationS3Uri"), "s3://bank/cap"),
    (DEPLOY_ARGS, ["--capture-percent", "7", "--kms-key", KEY], op("CreateEndpointConfig", "DataCaptureConfig", "KmsKeyId"), KEY),
    (DEPLOY_ARGS, ["--kms-key", KEY], op("CreateEndpointConfig", "KmsKeyId"), KEY),
    (DEPLOY_ARGS, ["--model-package", PACKAGE], op("CreateModel", "PrimaryContainer"), {"ModelPackageName": PACKAGE}),
    (DEPLOY_ARGS, ["--model-data", "s3://other/model.tar.gz"], op("CreateModel", "PrimaryContainer", "ModelDataUrl"), "s3://other/model.tar.gz"),
    (DEPLOY_ARGS, ["--training-job", "job-7", "--model-data", ""], op("CreateModel", "PrimaryContainer", "ModelDataUrl"), "<S3ModelArtifacts of training job job-7>"),
    (DEPLOY_ARGS, ["--env", "SAGEMAKER_INFERENCE_OUTPUT=probability"], op("CreateModel", "PrimaryContainer", "Environment"), {"SAGEMAKER_INFERENCE_OUTPUT": "probability"}),
    (DEPLOY_ARGS, ["--name", "scoring"], op("CreateEndpoint", "EndpointName"), "scoring"),
    (DEPLOY_ARGS, ["--min-instances", "2", "--max-instances", "6", "--instance-count", "2"], op("RegisterScalableTarget", "MinCapacity"), 2),
    (DEPLOY_ARGS, ["--min-instances", "1", "--max-instances", "6"], op("RegisterScalableTarget", "MaxCapacity"), 6),
    (DEPLOY_ARGS, ["--max-instances", "4", "--target-invocations", "250"], op(*SCALING, "TargetValue"), 250.0),
    (DEPLOY_ARGS, ["--max-instances", "4"], op(*SCALING, "PredefinedMetricSpecification", "PredefinedMetricType"), "SageMakerVariantInvocationsPerInstance"),
    (DEPLOY_ARGS, ["--max-instances", "4"], op(*SCALING, "ScaleInCooldown"), 300),
    (DEPLOY_ARGS, ["--max-instances", "4"], op(*SCALING, "ScaleOutCooldown"), 60),
    (DEPLOY_ARGS, ["--subnets", "subnet-9", "--security-groups", "sg-9"], op("CreateModel", "VpcConfig"), VPC),
    (DEPLOY_ARGS, ["--network-isolation"], op("CreateModel", "EnableNetworkIsolation"), True),
    (DEPLOY_ARGS, ["--tags", "team=credit-risk"], op("CreateModel", "Tags"), TAGS),
    (DEPLOY_ARGS, ["--tags", "team=credit-risk"], op("CreateEndpointConfig", "Tags"), TAGS),
    (DEPLOY_ARGS, ["--tags", "team=credit-risk"], op("CreateEndpoint", "Tags"), TAGS),
    (DEPLOY_ARGS, ["--tags", "team=credit-risk", "--max-instances", "2"], op("RegisterScalableTarget", "Tags"), {"team": "credit-risk"}),
    (UPDATE_ARGS, ["--canary-percent", "10"], op(*ROUTING), {"Type": "CANARY", "WaitIntervalInSeconds": 300, "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}}),
    (UPDATE_ARGS, ["--linear-percent", "25"], op(*ROUTING, "LinearStepSize"), {"Type": "CAPACITY_PERCENT", "Value": 25}),
    (UPDATE_ARGS, ["--linear-percent", "25", "--wait-interval", "60"], op(*ROUTING, "WaitIntervalInSeconds"), 60),
    (UPDATE_ARGS, ["--rollback-alarm", "p99-latency", "errors"], op("UpdateEndpoint", "DeploymentConfig", "AutoRollbackConfiguration"),
     {"Alarms": [{"AlarmName": "p99-latency"}, {"AlarmName": "errors"}]}),
    (UPDATE_ARGS, ["--endpoint", "scoring"], op("UpdateEndpoint", "EndpointName"), "scoring"),
    (UPDATE_ARGS, ["--instance-count", "3"], op(*VARIANT, "InitialInstanceCount"), 3),
    (UPDATE_ARGS, ["--capture-percent", "3"], op("CreateEndpointConfig", "DataCaptureConfig", "InitialSamplingPercentage"), 3),
    (UPDATE_ARGS, ["--kms-key", KEY], op("CreateEndpointConfig", "KmsKeyId"), KEY),
    (UPDATE_ARGS, ["--tags", "team=credit-risk"], op("CreateModel", "Tags"), TAGS),
    (BATCH_ARGS, ["--accept", "application/jsonlines"], op("CreateTransformJob", "TransformOutput", "Accept"), "application/jsonlines"),
    (BATCH_ARGS, ["--content-type", "text/libsvm"], op("CreateTransformJob", "TransformInput", "ContentType"), "text/libsvm"),
    (BATCH_ARGS, ["--max-payload-mb", "20"], op("CreateTransformJob", "MaxPayloadInMB"), 20),
    (BATCH_ARGS, ["--max-concurrent", "4"], op("CreateTransformJob", "MaxConcurrentTransforms"), 4),
    (BATCH_ARGS, ["--instance-type", "ml.c5.xlarge"], op("CreateTransformJob", "TransformResources", "InstanceType"), "ml.c5.xlarge"),
    (BATCH_ARGS, ["--instance-count", "3"], op("CreateTransformJob", "TransformResources", "InstanceCount"), 3),
    (BATCH_ARGS, ["--output-s3", "s3://bank/scores"], op("CreateTransformJob", "TransformOutput", "S3OutputPath"), "s3://bank/scores"),
    (BATCH_ARGS, ["--input", "s3://bank/other/"], op("CreateTransformJob", "TransformInput", "DataSource", "S3DataSource", "S3Uri"), "s3://bank/other/"),
    (BATCH_ARGS, ["--model", "existing"], op("CreateTransformJob", "ModelName"), "existing"),
    (BATCH_ARGS, ["--job-name", "scores-1"], op("CreateTransformJob", "TransformJobName"), "scores-1"),
    (BATCH_ARGS, ["--kms-key", KEY], op("CreateTransformJob", "TransformOutput", "KmsKeyId"), KEY),
    (BATCH_ARGS, ["--kms-key", KEY], op("CreateTransformJob", "TransformResources", "VolumeKmsKeyId"), KEY),
    (BATCH_ARGS, ["--tags", "team=credit-risk"], op("CreateTransformJob", "Tags"), TAGS),
    (REGISTER_ARGS, ["--approval", "Approved"], op("CreateModelPackage", "ModelApprovalStatus"), "Approved"),
    (REGISTER_ARGS, ["--group", "scorecards"], op("CreateModelPackage", "ModelPackageGroupName"), "scorecards"),
    (REGISTER_ARGS, ["--description", "Q3 refit"], op("CreateModelPackage", "ModelPackageDescription"), "Q3 refit"),
    (REGISTER_ARGS, ["--training-job", "job-9"], op("CreateModelPackage", "CustomerMetadataProperties", "TrainingJob"), "job-9"),
    (REGISTER_ARGS, ["--kms-key", KEY], op("PutObject", "SSEKMSKeyId"), KEY),
    (REGISTER_ARGS, ["--tags", "team=credit-risk"], op("CreateModelPackage", "Tags"), TAGS),
    (MONITOR_ARGS, ["--capture", "s3://bank/cap/credit/"], op(PROCESSING, "ProcessingInputs", 0, "S3Input", "S3Uri"), "s3://bank/cap/credit/"),
    (MONITOR_ARGS, ["--ground-truth", "s3://bank/truth/"], op(PROCESSING, "ProcessingInputs", 2, "S3Input", "S3Uri"), "s3://bank/truth/"),
    (MONITOR_ARGS, ["--ground-truth", "s3://bank/truth/"], op(PROCESSING, "Environment", "ground_truth_source"), "/opt/ml/processing/groundtruth"),
    (MONITOR_ARGS, ["--output", "s3://bank/reports/"], op(PROCESSING, "ProcessingOutputConfig", "Outputs", 0, "S3Output", "S3Uri"), "s3://bank/reports/"),
    (MONITOR_ARGS, ["--start-time", "2026-11-30T09:00:00Z"], op(PROCESSING, "Environment", "start_time"), "2026-11-30T09:00:00Z"),
    (MONITOR_ARGS, ["--end-time", "2026-11-30T10:00:00Z"], op(PROCESSING, "Environment", "end_time"), "2026-11-30T10:00:00Z"),
    (MONITOR_ARGS, ["--cloudwatch"], op(PROCESSING, "Environment", "publish_cloudwatch_metrics"), "Enabled"),
    (MONITOR_ARGS, ["--endpoint", "scoring"], op(PROCESSING, "Environment", "sagemaker_endpoint_name"), "scoring"),
    (MONITOR_ARGS, ["--job-name", "monitor-7"], op(PROCESSING, "ProcessingJobName"), "monitor-7"),
    (MONITOR_ARGS, ["--instance-type", "ml.c5.xlarge"], op(PROCESSING, "ProcessingResources", "ClusterConfig", "InstanceType"), "ml.c5.xlarge"),
    (MONITOR_ARGS, ["--image", "other:2"], op(PROCESSING, "AppSpecification", "ImageUri"), "<ACCOUNT>.dkr.ecr.eu-west-1.amazonaws.com/other:2"),
    (MONITOR_ARGS, ["--role", "arn:aws:iam::111122223333:role/Bank"], op(PROCESSING, "RoleArn"), "arn:aws:iam::111122223333:role/Bank"),
    (MONITOR_ARGS, ["--bucket", "bank-ml"], op("PutObject", "Bucket"), "bank-ml"),
    (MONITOR_ARGS, ["--prefix", "risk", "--job-name", "j"], op("PutObject", "Key"), "risk/monitoring/j/baseline/constraints.json"),
    (MONITOR_ARGS, ["--kms-key", KEY], op("PutObject", "SSEKMSKeyId"), KEY),
    (MONITOR_ARGS, ["--kms-key", KEY], op("PutObject", "ServerSideEncryption"), "aws:kms"),
    (MONITOR_ARGS, ["--kms-key", KEY], op(PROCESSING, "ProcessingOutputConfig", "KmsKeyId"), KEY),
    (MONITOR_ARGS, ["--kms-key", KEY], op(PROCESSING, "ProcessingResources", "ClusterConfig", "VolumeKmsKeyId"), KEY),
    (MONITOR_ARGS, ["--subnets", "subnet-9", "--security-groups", "sg-9"], op(PROCESSING, "NetworkConfig", "VpcConfig"), VPC),
    (MONITOR_ARGS, ["--network-isolation"], op(PROCESSING, "NetworkConfig", "EnableNetworkIsolation"), True),
    (MONITOR_ARGS, ["--tags", "team=credit-risk"], op(PROCESSING, "Tags"), TAGS),
    (MONITOR_ARGS, ["--schedule", "hourly"], op(SCHEDULE, "MonitoringScheduleName"), "hourly"),
    (SCHEDULE_ARGS, ["--schedule-expression", "cron(0 6 ? * * *)"], op(SCHEDULE, "MonitoringScheduleConfig", "ScheduleConfig", "ScheduleExpression"), "cron(0 6 ? * * *)"),
    (SCHEDULE_ARGS, ["--endpoint", "scoring"], op(*MONITOR_JOB, "MonitoringInputs", 0, "EndpointInput", "EndpointName"), "scoring"),
    (SCHEDULE_ARGS, ["--output", "s3://bank/reports/"], op(*MONITOR_JOB, "MonitoringOutputConfig", "MonitoringOutputs", 0, "S3Output", "S3Uri"), "s3://bank/reports/"),
    (SCHEDULE_ARGS, ["--cloudwatch"], op(*MONITOR_JOB, "Environment", "publish_cloudwatch_metrics"), "Enabled"),
    (SCHEDULE_ARGS, ["--instance-type", "ml.c5.xlarge"], op(*MONITOR_JOB, "MonitoringResources", "ClusterConfig", "InstanceType"), "ml.c5.xlarge"),
    (SCHEDULE_ARGS, ["--kms-key", KEY], op(*MONITOR_JOB, "MonitoringOutputConfig", "KmsKeyId"), KEY),
    (SCHEDULE_ARGS, ["--kms-key", KEY], op(*MONITOR_JOB, "MonitoringResources", "ClusterConfig", "VolumeKmsKeyId"), KEY),
    (SCHEDULE_ARGS, ["--subnets", "subnet-9", "--security-groups", "sg-9"], op(*MONITOR_JOB, "NetworkConfig", "VpcConfig"), VPC),
    (SCHEDULE_ARGS, ["--network-isolation"], op(*MONITOR_JOB, "NetworkConfig", "EnableNetworkIsolation"), True),
    (SCHEDULE_ARGS, ["--tags", "team=credit-risk"], op(SCHEDULE, "Tags"), TAGS),
    (("cleanup", "--endpoint", "credit"), ["--model", "m-1"], op("DeleteModel", "ModelName"), "m-1"),
    (("cleanup", "--model", "m-0"), ["--endpoint", "scoring"], op("DeleteEndpoint", "EndpointName"), "scoring"),
    (("invoke", "--endpoint", "credit", "--input", TRAIN + "/german_credit_train.csv", "--content-type", "text/csv"),
     ["--accept", "application/json"], op("InvokeEndpoint", "Accept"), "application/json"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("base", "extra", "pick", "value"),
    FLAGS,
    ids=[f"{b[0]}{' '.join(['', *e])[:60]}" for b, e, _, _ in FLAGS],
)
def test_each_flag_reaches_its_request_field(capsys, base, extra, pick, value):
    with_flag = pick(dry(capsys, *base, *extra))
    assert with_flag == value
    without = pick(dry(capsys, *base))
    assert without != value, "the field holds this value without the flag too"


def test_every_flag_of_every_subcommand_is_in_the_table():
    """A flag added without a row in FLAGS (or a reason here) fails this test."""
    not_requests = {
        "--help", "--region", "--dry-run", "--poll", "--local", "--local-dir", "--no-wait",
        "--port", "--rows-per-request", "--content-type", "--input", "--endpoint", "--wait-interval",
        "--train", "--hyperparameters", "--max-wait",
    }  # fmt: skip
    tested = {flag for _, extra, _, _ in FLAGS for flag in extra if flag.startswith("--")}
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    missing = set()
    for name, sub in subparsers.items():
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag not in tested | not_requests:
                    missing.add(f"{name} {flag}")
    assert not missing, sorted(missing)


def test_only_subcommands_with_a_local_flow_take_local():
    subparsers = next(a for a in cli.build_parser()._actions if a.dest == "command").choices
    for command in cli.commands():
        assert ("--local" in subparsers[command.name]._option_string_actions) == (
            command.local is not None
        ), command.name


def test_random_search_draws_within_the_ranges_with_their_types():
    import random

    from launcher.tuning import parse_range

    rng = random.Random(3)
    for text, kind in (("a=2:9", int), ("b=1:1000:log", int), ("c=0.1:0.9", float),
                       ("d=0.001:0.5:log", float)):  # fmt: skip
        found = parse_range(text)
        low, high = (float(x) for x in text.split("=")[1].split(":")[:2])
        draws = [found.sample(rng) for _ in range(200)]
        assert all(low <= kind(d) <= high for d in draws), (text, draws[:5])
        if kind is int:
            assert all(d.lstrip("-").isdigit() for d in draws)
        assert len(set(draws)) > 5
        if found.log:  # log-uniform: the lower decade gets a fair share
            assert sum(kind(d) < low * 10 for d in draws) > 20
    choices = parse_range("e=x,y,z")
    assert {choices.sample(rng) for _ in range(100)} == {"x", "y", "z"}


def test_a_header_table_for_batch_is_warned_about(capsys):
    argv = [*BATCH_ARGS[:-1], "text/csv; header=present", "--dry-run", "--region", "eu-west-1"]
    assert cli.main(argv) == 0
    assert "Send a header table as text/csv" in capsys.readouterr().err
    assert cli.main([*BATCH_ARGS, "--dry-run", "--region", "eu-west-1"]) == 0
    assert "header" not in capsys.readouterr().err
