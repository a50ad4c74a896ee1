# ruff: noqa: F811 - the fixtures imported from launch_support are used as arguments
"""tune, autoscaled and serverless deploy, update/rollback, versions in cleanup, the registry:
against moto in server mode, checked both in the requests moto recorded and in moto's state."""

from __future__ import annotations

import io
import json
import tarfile
import uuid

import boto3
from emulators import LAUNCH_IMAGE, LAUNCH_ROLE
from launch_support import moto, refuse, script, tool  # noqa: F401 - fixtures

MODEL = ["--image", LAUNCH_IMAGE, "--role", LAUNCH_ROLE]


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sent(moto, target: str) -> list[dict]:
    return [r["json"] for r in moto.requests(target)]


def aws(moto, service: str):
    return boto3.client(service, **moto.client_kwargs())


def trained(tool) -> str:
    job = name("job")
    status, _, err = tool("train", *MODEL, "--train", "s3://d/t/", "--validation", "s3://d/v/",
                          "--job-name", job)  # fmt: skip
    assert status == 0, err
    return job


def test_tune_creates_the_job_follows_it_and_prints_the_best(tool, moto):
    job = name("tune")[:32]
    moto.record()
    status, out, err = tool(
        "tune", *MODEL, "--train", "s3://d/t/", "--validation", "s3://d/v/",
        "--range", "eta=0.01:0.3:log", "--range", "max_depth=3:8", "--range", "grow_policy=depthwise,lossguide",
        "--objective", "validation:logloss", "--max-jobs", "6", "--max-parallel", "3",
        "--warm-start", "older-tune", "--job-name", job,
    )  # fmt: skip
    (request,) = sent(moto, "CreateHyperParameterTuningJob")
    config = request["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["TrainingJobEarlyStoppingType"] == "Auto"
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Minimize",
        "MetricName": "validation:logloss",
    }
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 3}
    assert request["WarmStartConfig"]["ParentHyperParameterTuningJobs"] == [
        {"HyperParameterTuningJobName": "older-tune"}
    ]
    described = aws(moto, "sagemaker").describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=job
    )
    assert described["HyperParameterTuningJobConfig"]["Strategy"] == "Bayesian"
    assert moto.requests("DescribeHyperParameterTuningJob")  # it followed the job
    assert f"{job}: " in err
    assert status == 0, out + err
    assert out.splitlines()[0].split()[:3] == ["trial", "status", "validation:logloss"]
    best = described["BestTrainingJob"]["TrainingJobName"]
    assert out.splitlines()[-1] == best  # the last line: for deploy --training-job
    assert f"best {best}" in out


def test_tune_no_wait_prints_the_tuning_job_and_returns(tool, moto):
    job = name("tnw")
    moto.record()
    status, out, err = tool("tune", *MODEL, "--train", "s3://d/t/", "--range", "eta=0.1:0.3",
                            "--job-name", job, "--no-wait")  # fmt: skip
    assert status == 0, err
    assert out.strip() == job
    assert not moto.requests("DescribeHyperParameterTuningJob")


def test_tune_refuses_an_objective_the_image_does_not_report(tool, moto):
    moto.record()
    status, _, err = tool("tune", *MODEL, "--train", "s3://d/t/", "--range", "eta=0.1:0.3",
                          "--objective", "validation:f1")  # fmt: skip
    assert status == 2
    assert "--objective 'validation:f1' is not among the image's metric definitions" in err
    assert not moto.requests("CreateHyperParameterTuningJob")


def test_autoscaled_deploy_registers_target_tracking_and_cleanup_removes_it(tool, moto):
    job, endpoint = trained(tool), name("scaled")
    status, out, err = tool(
        "deploy", *MODEL, "--training-job", job, "--name", endpoint, "--instance-count", "2",
        "--min-instances", "2", "--max-instances", "5", "--target-invocations", "300",
    )  # fmt: skip
    assert status == 0, err
    assert out.strip() == endpoint
    scaling = aws(moto, "application-autoscaling")
    resource = f"endpoint/{endpoint}/variant/AllTraffic"
    (target,) = scaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[resource]
    )["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 5)
    (policy,) = scaling.describe_scaling_policies(
        ServiceNamespace="sagemaker", ResourceId=resource
    )["ScalingPolicies"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 300.0
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "SageMakerVariantInvocationsPerInstance"
    )
    assert (tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (300, 60)

    status, out, err = tool("cleanup", "--endpoint", endpoint)
    assert status == 0, out + err
    assert out.splitlines()[:2] == [
        f"deleted scaling registration {endpoint}",
        f"deleted endpoint {endpoint}",
    ]
    assert not scaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=[resource]
    )["ScalableTargets"]


def test_serverless_deploy(tool, moto):
    job, endpoint = trained(tool), name("cheap")
    moto.record()
    status, _, err = tool("deploy", *MODEL, "--training-job", job, "--name", endpoint,
                          "--serverless", "3072:8")  # fmt: skip
    assert status == 0, err
    (config,) = sent(moto, "CreateEndpointConfig")
    variant = config["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 8}
    assert "InstanceType" not in variant


def test_deploy_refuses_an_existing_endpoint_name(tool, moto):
    job, endpoint = trained(tool), name("twice")
    assert tool("deploy", *MODEL, "--training-job", job, "--name", endpoint)[0] == 0
    moto.record()
    status, _, err = tool("deploy", *MODEL, "--training-job", job, "--name", endpoint)
    assert status == 2
    assert f"update --endpoint {endpoint}" in err
    assert not moto.requests("CreateModel")


def endpoint_states(endpoint: str, *states: tuple[str, str]) -> list[dict]:
    return [
        {"EndpointName": endpoint, "EndpointArn": f"arn:aws:sagemaker:eu-west-1:1:endpoint/{endpoint}",
         "EndpointStatus": state, "EndpointConfigName": config,
         **({"FailureReason": "canary alarm credit-5xx fired"} if state == "Failed" else {}),
         "CreationTime": "2026-01-01T00:00:00Z", "LastModifiedTime": "2026-01-01T00:00:00Z"}
        for state, config in states
    ]  # fmt: skip


def test_update_shifts_to_a_new_version_rollback_returns_and_cleanup_deletes_every_version(
    tool, moto, script, monkeypatch
):
    """moto has no UpdateEndpoint: AWS's answers to it and to the DescribeEndpoint calls that
    follow are scripted; the models, configs and deletions are moto's."""
    job, endpoint = trained(tool), name("bg")
    assert tool("deploy", *MODEL, "--training-job", job, "--name", endpoint)[0] == 0
    sm = aws(moto, "sagemaker")
    first = sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    moto.record()
    updates = []
    script("UpdateEndpoint", [{"EndpointArn": "arn"}])
    states = [("InService", first), ("Updating", first), ("Updating", first), ("InService", "NEW")]
    script("DescribeEndpoint", endpoint_states(endpoint, *states))
    original = boto3.session.Session.client

    def recording(self, *args, **kwargs):  # the UpdateEndpoint requests, as they would be sent
        made = original(self, *args, **kwargs)
        made.meta.events.register(
            "provide-client-params.sagemaker.UpdateEndpoint",
            lambda params, **_: updates.append(params),
        )
        return made

    monkeypatch.setattr(boto3.session.Session, "client", recording)
    status, out, err = tool(
        "update", "--endpoint", endpoint, *MODEL, "--model-data", "s3://m/v2/model.tar.gz",
        "--canary-percent", "10", "--wait-interval", "120", "--rollback-alarm", "credit-5xx",
    )  # fmt: skip
    (update,) = updates
    second = update["EndpointConfigName"]
    assert second != first and second.startswith(f"{endpoint}-v")
    policy = update["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 120,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
    }
    assert update["DeploymentConfig"]["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "credit-5xx"}]
    }
    (model,) = sent(moto, "CreateModel")
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://m/v2/model.tar.gz"
    assert sm.describe_endpoint_config(EndpointConfigName=second)  # made in moto
    # the scripted endpoint ended on "NEW", not on the new version: the update did not take
    assert status == 1
    assert f"endpoint {endpoint} rolled back to NEW" in out
    assert err.count(f"{endpoint}: Updating") == 1  # it waited through Updating

    states = endpoint_states(endpoint, ("InService", first), ("Updating", first))
    took = {**states[0]}  # ends on the version the update names
    script("DescribeEndpoint", [*states, lambda: {**took, **updates[-1]}])
    status, out, err = tool(
        "update", "--endpoint", endpoint, *MODEL, "--model-data", "s3://m/v3/model.tar.gz"
    )
    assert status == 0, err
    third = [line for line in out.splitlines() if "now serves" in line]
    assert third and third[0].startswith(f"endpoint {endpoint} now serves {endpoint}-v")

    script(
        "DescribeEndpoint",
        endpoint_states(endpoint, ("InService", "x"), ("Updating", "x"), ("Failed", "x")),
    )
    status, out, err = tool(
        "update", "--endpoint", endpoint, *MODEL, "--model-data", "s3://m/v4/model.tar.gz"
    )
    assert status == 1
    assert "canary alarm credit-5xx fired" in err

    newest = sorted(
        c["EndpointConfigName"]
        for c in sm.list_endpoint_configs()["EndpointConfigs"]
        if c["EndpointConfigName"].startswith(f"{endpoint}-v")
    )
    assert len(newest) == 4
    script(
        "DescribeEndpoint",
        endpoint_states(endpoint, ("InService", newest[2]), ("InService", newest[1])),
    )
    status, out, err = tool("rollback", "--endpoint", endpoint)
    assert status == 0, err
    assert f"endpoint {endpoint} now serves {newest[1]} (was {newest[2]})" in out

    script("DescribeEndpoint", [])
    status, out, err = tool("cleanup", "--endpoint", endpoint)
    assert status == 0, out + err
    assert out.splitlines() == [
        f"deleted endpoint {endpoint}",
        *[f"deleted endpoint config {c}" for c in newest],
        *[f"deleted model {c}" for c in newest],
    ]
    # (moto's list_models does not apply NameContains: filter here)
    assert not [m for m in sm.list_models()["Models"] if endpoint in m["ModelName"]]
    configs = sm.list_endpoint_configs()["EndpointConfigs"]
    assert not [c for c in configs if endpoint in c["EndpointConfigName"]]


def put_evaluation(moto, job: str, report: dict) -> None:
    described = aws(moto, "sagemaker").describe_training_job(TrainingJobName=job)
    uri = f"{described['OutputDataConfig']['S3OutputPath']}/{job}/output/output.tar.gz"
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = json.dumps(report).encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("evaluation-validation.json")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    aws(moto, "s3").put_object(Bucket=bucket, Key=key, Body=archive.getvalue())


def test_register_attaches_the_evaluation_and_deploy_takes_an_approved_package(tool, moto):
    job, group = trained(tool), name("credit-models")
    report = {"objective": "binary:logistic", "roc_auc": 0.81, "rows": 200}
    put_evaluation(moto, job, report)
    status, out, err = tool("register", "--training-job", job, "--group", group,
                            "--image", LAUNCH_IMAGE, "--approval", "Approved")  # fmt: skip
    assert status == 0, err
    arn = out.strip().splitlines()[-1]
    sm = aws(moto, "sagemaker")
    package = sm.describe_model_package(ModelPackageName=arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ModelPackageGroupName"] == group
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    bucket, _, key = statistics["S3Uri"].removeprefix("s3://").partition("/")
    stored = aws(moto, "s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert json.loads(stored) == report
    model_data = sm.describe_training_job(TrainingJobName=job)["ModelArtifacts"]
    assert (
        package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        == (model_data["S3ModelArtifacts"])
    )

    endpoint = name("pkg")
    moto.record()
    status, _, err = tool(
        "deploy", "--role", LAUNCH_ROLE, "--model-package", arn, "--name", endpoint
    )
    assert status == 0, err
    (model,) = sent(moto, "CreateModel")
    assert model["PrimaryContainer"] == {"ModelPackageName": arn}


def test_deploy_refuses_a_package_not_approved(tool, moto):
    job, group = trained(tool), name("pending")
    put_evaluation(moto, job, {"roc_auc": 0.7})
    status, out, err = tool(
        "register", "--training-job", job, "--group", group, "--image", LAUNCH_IMAGE
    )
    assert status == 0, err
    arn = out.strip().splitlines()[-1]
    moto.record()
    status, _, err = tool("deploy", "--role", LAUNCH_ROLE, "--model-package", arn)
    assert status == 2
    assert "is PendingManualApproval; approve it first" in err
    assert not moto.requests("CreateModel")


def test_register_without_an_evaluation_is_refused(tool, moto):
    job = trained(tool)
    moto.record()
    status, _, err = tool(
        "register", "--training-job", job, "--group", "g", "--image", LAUNCH_IMAGE
    )
    assert status == 2
    assert "has no evaluation-validation.json" in err
    assert not moto.requests("CreateModelPackage")
