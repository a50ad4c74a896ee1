# ruff: noqa: F811 - the fixtures imported from launch_support are used as arguments
"""The launcher defects of the hardening issue (#9 items 1, 5, 14-17), each reproduced.

In-process runs of ``sagemaker_launch.main`` against moto in server mode; where an AWS answer
moto cannot give is needed (an endpoint that cannot be deleted now, a refused upload), botocore's
own ``before-call`` event answers that one operation with the error AWS would give.
"""

from __future__ import annotations

import json
import uuid

import boto3
from emulators import ACCOUNT, LAUNCH_IMAGE, LAUNCH_REPO, LAUNCH_ROLE, REGION, ROOT_DIR
from launch_support import moto, refuse, tool  # noqa: F401 - fixtures

TRAIN = ROOT_DIR / "local_test" / "test_dir" / "input" / "data" / "train"


def sent(moto, target: str) -> list[dict]:
    return [r["json"] for r in moto.requests(target)]


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def train_job(tool) -> str:
    job = name("job")
    status, _, err = tool(
        "train", "--image", LAUNCH_IMAGE, "--role", LAUNCH_ROLE, "--train", "s3://d/t/",
        "--job-name", job,
    )  # fmt: skip
    assert status == 0, err
    return job


def deploy(tool, *extra: str) -> tuple[str, int, str, str]:
    endpoint = name("ep")
    job = train_job(tool)
    status, out, err = tool(
        "deploy", "--image", LAUNCH_IMAGE, "--role", LAUNCH_ROLE, "--training-job", job,
        "--name", endpoint, *extra,
    )  # fmt: skip
    return endpoint, status, out, err


# 1: every job its own checkpoint prefix


def test_each_job_gets_its_own_checkpoint_prefix(tool, moto):
    moto.record()
    job = name("ckpt")
    status, _, err = tool(
        "train", "--image", LAUNCH_IMAGE, "--role", LAUNCH_ROLE, "--train", "s3://d/t/",
        "--checkpoint-s3", "s3://bank-ckpt/credit/", "--spot", "--job-name", job,
    )  # fmt: skip
    assert status == 0, err
    (request,) = sent(moto, "CreateTrainingJob")
    assert request["CheckpointConfig"]["S3Uri"] == f"s3://bank-ckpt/credit/{job}"


# 14: cleanup counts only a real not-found as gone


def test_cleanup_of_an_endpoint_that_cannot_be_deleted_keeps_its_parts_and_fails(
    tool, moto, refuse
):
    endpoint, status, _, err = deploy(tool)
    assert status == 0, err
    refuse("DeleteEndpoint", "ValidationException", "Cannot update in-progress endpoint")
    moto.record()
    status, out, _ = tool("cleanup", "--endpoint", endpoint)
    assert status == 1
    assert f"cannot delete endpoint {endpoint}: Cannot update in-progress endpoint" in out
    assert "not found" not in out
    remaining = [line for line in out.splitlines() if line.startswith("remaining")]
    assert remaining and f"endpoint {endpoint}" in remaining[0]
    assert f"endpoint config {endpoint}-v" in remaining[0] and f"model {endpoint}-v" in remaining[0]
    assert not moto.requests("DeleteEndpointConfig") and not moto.requests("DeleteModel")
    sm = boto3.client("sagemaker", **moto.client_kwargs())
    assert [m for m in sm.list_models()["Models"] if m["ModelName"].startswith(f"{endpoint}-v")]


def test_cleanup_reports_a_failed_model_deletion_and_exits_non_zero(tool, refuse):
    refuse("DeleteModel", "AccessDeniedException", "not authorized to perform DeleteModel")
    status, out, _ = tool("cleanup", "--model", "some-model")
    assert status == 1
    assert "cannot delete model some-model: not authorized" in out
    assert "remaining (still there, still billed where running): model some-model" in out


# 15: data capture is opt-in, and encrypted with the KMS key


def test_deploy_captures_nothing_unless_asked(tool, moto):
    moto.record()
    _, status, _, err = deploy(tool)
    assert status == 0, err
    (config,) = sent(moto, "CreateEndpointConfig")
    assert "DataCaptureConfig" not in config


def test_capture_is_encrypted_with_the_kms_key(tool, moto):
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    moto.record()
    _, status, _, err = deploy(tool, "--capture-percent", "20", "--kms-key", key)
    assert status == 0, err
    (config,) = sent(moto, "CreateEndpointConfig")
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 20
    assert config["DataCaptureConfig"]["KmsKeyId"] == key
    assert config["KmsKeyId"] == key


# 16: validate before creating; name what was left behind


def test_batch_refuses_a_missing_content_type_before_creating_the_model(tool, moto):
    moto.record()
    status, _, err = tool(
        "batch", "--image", LAUNCH_IMAGE, "--role", LAUNCH_ROLE,
        "--model-data", "s3://m/model.tar.gz", "--input", "s3://bank/applicants/",
    )  # fmt: skip
    assert status == 2
    assert "--content-type" in err
    assert not moto.requests("CreateModel")


def test_a_failure_after_some_creates_names_what_was_left_behind(tool, moto, refuse):
    job = train_job(tool)
    refuse("CreateEndpoint", "ResourceLimitExceeded", "account-level service limit exceeded")
    endpoint = name("ep")
    status, _, err = tool(
        "deploy", "--image", LAUNCH_IMAGE, "--role", LAUNCH_ROLE, "--training-job", job,
        "--name", endpoint,
    )  # fmt: skip
    assert status == 2
    assert "service limit exceeded" in err
    assert f"left behind: model {endpoint}-v" in err
    assert f"endpoint config {endpoint}-v" in err


# 17: smaller items


def test_a_name_over_63_characters_is_refused_before_any_call(tool, moto):
    long = "credit-" + "-".join(["risk"] * 12)  # 66 characters, each part valid
    assert len(long) > 63
    moto.record()
    status, _, err = tool(
        "train", "--image", LAUNCH_IMAGE, "--role", LAUNCH_ROLE, "--train", "s3://d/t/",
        "--job-name", long,
    )  # fmt: skip
    assert status == 2
    assert "at most 63" in err
    assert not moto.requests("CreateTrainingJob")


def test_a_null_hyperparameter_is_refused_not_sent_as_none(tool, moto, tmp_path):
    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps({"num_round": 10, "max_depth": None}))
    moto.record()
    status, _, err = tool(
        "train", "--image", LAUNCH_IMAGE, "--role", LAUNCH_ROLE, "--train", "s3://d/t/",
        "--hyperparameters", str(hp),
    )  # fmt: skip
    assert status == 2
    assert "hyperparameter 'max_depth' is null" in err
    assert not moto.requests("CreateTrainingJob")


def test_an_s3_upload_failure_is_one_line(tool, moto, refuse):
    refuse("PutObject", "AccessDenied", "Access Denied", status=403)
    status, _, err = tool(
        "train", "--image", LAUNCH_IMAGE, "--role", LAUNCH_ROLE, "--train", str(TRAIN),
    )  # fmt: skip
    assert status == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: upload of ") and "Access Denied" in lines[-1]
    assert "Traceback" not in err


def test_an_oci_index_image_gets_a_warning(tool, moto):
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [],
    }
    ecr = boto3.client("ecr", **moto.client_kwargs())
    ecr.put_image(repositoryName=LAUNCH_REPO, imageManifest=json.dumps(index), imageTag="multi")
    status, _, err = tool(
        "train", "--image", f"{LAUNCH_REPO}:multi", "--role", LAUNCH_ROLE, "--train", "s3://d/t/",
    )  # fmt: skip
    assert status == 0, err
    assert "is an OCI image index" in err
    status, _, err = tool(
        "train", "--image", f"{LAUNCH_REPO}:t1", "--role", LAUNCH_ROLE, "--train", "s3://d/t/",
    )  # fmt: skip
    assert "OCI image index" not in err


# 5: batch --local cuts a header CSV as SageMaker does


def test_local_batch_sends_the_header_in_the_first_request_only(tmp_path):
    from launcher.local.batch import requests_of

    table = tmp_path / "applicants.csv"
    rows = [f"{i},{i * 2},a{i}" for i in range(300)]
    table.write_text("\n".join(["x,y,z", *rows]) + "\n")
    bodies = list(requests_of(table, 1024, "text/csv; header=present"))
    assert len(bodies) > 2
    assert bodies[0].startswith(b"x,y,z\n")
    assert all(not b.startswith(b"x,y,z") for b in bodies[1:])
    assert b"".join(bodies).decode().splitlines() == ["x,y,z", *rows]  # every row, in order
    assert all(len(b) <= 1024 for b in bodies)
