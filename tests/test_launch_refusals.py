"""Every refusal of bad flags, offline: one line on stderr, exit 2, no request printed first;
and the limits, refused just over and taken at the edge."""

from __future__ import annotations

import json

import pytest
from test_launch_dry_run import (
    BATCH_ARGS,
    DEPLOY_ARGS,
    IMAGE,
    MODEL,
    TRAIN_ARGS,
    TUNE_ARGS,
    UPDATE_ARGS,
    cli,
    offline,  # noqa: F401 - the autouse fixture: no credentials, no network
)

REFUSED = [
    ((*TRAIN_ARGS, "--instance-count", "0"), "--instance-count 0: needs at least 1"),
    ((*TRAIN_ARGS, "--volume-size", "0"), "--volume-size 0: needs at least 1 GB"),
    ((*TRAIN_ARGS, "--max-run", "0"), "--max-run 0: needs at least 1 second"),
    ((*TRAIN_ARGS, "--spot", "--max-run", "3600", "--max-wait", "600"), "--max-wait 600 must be at least --max-run 3600"),
    ((*TRAIN_ARGS, "--max-wait", "7200"), "--max-wait applies to managed spot training"),
    ((*TRAIN_ARGS, "--subnets", "subnet-1"), "needs both --subnets and --security-groups"),
    ((*TRAIN_ARGS, "--security-groups", "sg-1"), "needs both --subnets and --security-groups"),
    ((*TRAIN_ARGS, "--tags", "team"), "--tags 'team': write KEY=VALUE"),
    ((*TRAIN_ARGS, "--tags", "aws:x=1"), "may not start with aws:"),
    ((*TRAIN_ARGS, "--hp", "num_round"), "--hp 'num_round': write KEY=VALUE"),
    ((*TRAIN_ARGS, "--train", "/nonexistent/train"), "input /nonexistent/train does not exist"),
    ((*TRAIN_ARGS, "--image", "127.0.0.1:5000/xgb:1"), "is not an ECR image URI"),
    ((*TRAIN_ARGS, "--role", "arn:aws:iam::1:user/bob"), "is not an IAM role ARN"),
    ((*TUNE_ARGS, "--range", "eta"), "write NAME=MIN:MAX[:log] or NAME=a,b,c"),
    ((*TUNE_ARGS, "--range", "alpha=2:1"), "MIN and MAX must be numbers with MIN < MAX"),
    ((*TUNE_ARGS, "--range", "alpha=0:1:log"), "a :log range needs MIN > 0"),
    ((*TUNE_ARGS, "--range", "alpha=1:2:cube"), "write NAME=MIN:MAX or NAME=MIN:MAX:log"),
    ((*TUNE_ARGS, "--range", "booster=gbtree"), "a categorical range needs 2 or more values"),
    ((*TUNE_ARGS, "--range", "eta=0.1:0.2"), "--range names a hyperparameter twice"),
    ((*TUNE_ARGS, "--max-jobs", "2", "--max-parallel", "3"), "--max-parallel 3 must be 1 to --max-jobs 2"),
    ((*TUNE_ARGS, "--max-parallel", "0"), "--max-parallel 0 must be 1 to --max-jobs 10"),
    ((*TUNE_ARGS, "--objective", "validation:f1"), "--objective 'validation:f1' is not among"),
    ((*TUNE_ARGS, "--job-name", "a" * 33), "at most 32 characters"),
    ((*TUNE_ARGS, "--checkpoint-s3", "s3://c/k"), "trials would share --checkpoint-s3"),
    (("tune", "--image", IMAGE, "--role", "R", "--train", "s3://b/t/"), "tune needs at least one --range"),
    ((*DEPLOY_ARGS, "--capture-percent", "0"), "--capture-percent 0: give 1 to 100"),
    ((*DEPLOY_ARGS, "--capture-percent", "101"), "--capture-percent 101: give 1 to 100"),
    ((*DEPLOY_ARGS, "--serverless", "1000:5"), "--serverless memory 1000"),
    ((*DEPLOY_ARGS, "--serverless", "2048:0"), "--serverless concurrency 0"),
    ((*DEPLOY_ARGS, "--serverless", "2048"), "write MEMORY_MB:MAX_CONCURRENCY"),
    ((*DEPLOY_ARGS, "--serverless", "2048:5", "--capture-percent", "5"), "serverless endpoints do not support data capture"),
    ((*DEPLOY_ARGS, "--serverless", "2048:5", "--max-instances", "3"), "serverless scales itself"),
    ((*DEPLOY_ARGS, "--min-instances", "3", "--max-instances", "2"), "need 1 <= min <= max"),
    ((*DEPLOY_ARGS, "--min-instances", "0", "--max-instances", "2", "--instance-count", "1"), "need 1 <= min <= max"),
    ((*DEPLOY_ARGS, "--instance-count", "5", "--min-instances", "1", "--max-instances", "3"), "must lie within --min-instances"),
    ((*DEPLOY_ARGS, "--max-instances", "2", "--target-invocations", "0"), "give invocations per instance > 0"),
    ((*DEPLOY_ARGS, "--instance-count", "0"), "--instance-count 0: needs at least 1"),
    ((*DEPLOY_ARGS, "--name", "n" * 45), "leave room for the version suffix"),
    ((*DEPLOY_ARGS, "--model-data", "/local/model.tar.gz"), "--model-data must be an S3 URI"),
    ((*DEPLOY_ARGS, "--model-data", ""), "give --model-data S3_URI, --training-job NAME or --model-package ARN"),
    (("deploy", "--role", "R", "--model-data", MODEL), "give --image"),
    ((*DEPLOY_ARGS, "--env", "NOEQUALS"), "--env 'NOEQUALS': write KEY=VALUE"),
    ((*UPDATE_ARGS, "--canary-percent", "0"), "--canary-percent 0: give 1 to 99"),
    ((*UPDATE_ARGS, "--linear-percent", "100"), "--linear-percent 100: give 1 to 99"),
    ((*UPDATE_ARGS, "--linear-percent", "10", "--wait-interval", "4000"), "--wait-interval 4000: give 0 to 3600"),
    ((*BATCH_ARGS, "--max-payload-mb", "0"), "--max-payload-mb 0: give 1 to 100"),
    ((*BATCH_ARGS, "--max-payload-mb", "101"), "--max-payload-mb 101: give 1 to 100"),
    ((*BATCH_ARGS, "--max-concurrent", "20"), "--max-concurrent x --max-payload-mb must stay within 100"),
    ((*BATCH_ARGS, "--instance-count", "0"), "--instance-count 0: needs at least 1"),
    (("batch", "--input", "s3://b/i/", "--content-type", "text/csv"), "batch needs --model NAME"),
    (("batch", "--model", "m", "--input", "s3://b/i/"), "an S3 --input needs --content-type"),
    (("cleanup",), "cleanup needs --endpoint NAME or --model NAME"),
    ((*TUNE_ARGS, "--warm-start", "bad_name"), "--warm-start tuning job 'bad_name' is not a valid"),
    (("register", "--training-job", "j", "--image", IMAGE), None),
    ((*TRAIN_ARGS, "--tags", "k=" + "v" * 257), "values at most 256"),
    ((*TRAIN_ARGS, "--tags", "k" * 129 + "=v"), "keys have at most 128"),
    ((*TRAIN_ARGS, "--local"), "--dry-run prints AWS requests; --local sends none"),
    (("update", "--endpoint", "e", "--role", "R", "--model-data", MODEL, "--local"), None),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), REFUSED, ids=[" ".join(a)[-70:] for a, _ in REFUSED])
def test_bad_flags_are_refused_with_one_line_before_any_request(capsys, argv, message):
    capsys.readouterr()
    try:
        status = cli.main([*argv, "--dry-run", "--region", "eu-west-1"])
    except SystemExit as exc:  # argparse's own refusal
        status = exc.code
    out, err = capsys.readouterr()
    assert status == 2, err
    assert out == "", "a request was printed before the refusal"
    if message is not None:
        assert message in err
        assert len(err.strip().splitlines()) == 1, err


def test_no_region_is_named(capsys, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert cli.main([*TRAIN_ARGS, "--dry-run"]) == 2
    assert "no AWS region" in capsys.readouterr().err


def test_limits_are_refused_just_over_and_taken_at_the_edge(capsys, tmp_path):
    regex = tmp_path / "metrics.json"
    for size, status in ((500, 0), (501, 2)):
        pattern = "x=([0-9.]+)" + "a" * (size - 11)
        regex.write_text(json.dumps([{"Name": "validation:x", "Regex": pattern}]))
        assert (
            cli.main(
                [
                    *TRAIN_ARGS,
                    "--metric-definitions",
                    str(regex),
                    "--dry-run",
                    "--region",
                    "eu-west-1",
                ]
            )
            == status
        )
    for flags, status in (
        (["--hp", "k=" + "v" * 2500], 0), (["--hp", "k=" + "v" * 2501], 2),
        (["--hp", "k" * 256 + "=1"], 0), (["--hp", "k" * 257 + "=1"], 2),
    ):  # fmt: skip
        assert cli.main([*TRAIN_ARGS, *flags, "--dry-run", "--region", "eu-west-1"]) == status
    for value, status in (("2048:200", 0), ("2048:201", 2), ("6144:1", 0), ("7168:1", 2)):
        assert (
            cli.main([*DEPLOY_ARGS, "--serverless", value, "--dry-run", "--region", "eu-west-1"])
            == status
        )
    capsys.readouterr()


ACCEPTED = [
    (*DEPLOY_ARGS, "--capture-percent", "1"),
    (*DEPLOY_ARGS, "--capture-percent", "100"),
    (*DEPLOY_ARGS, "--serverless", "1024:1"),
    (*DEPLOY_ARGS, "--min-instances", "1", "--max-instances", "1"),
    (*UPDATE_ARGS, "--canary-percent", "1"),
    (*UPDATE_ARGS, "--linear-percent", "99", "--wait-interval", "0"),
    (*UPDATE_ARGS, "--linear-percent", "1", "--wait-interval", "3600"),
    (*BATCH_ARGS, "--max-payload-mb", "1"),
    (*BATCH_ARGS, "--max-payload-mb", "100"),
    (*BATCH_ARGS, "--max-payload-mb", "10", "--max-concurrent", "10"),
    (*TRAIN_ARGS, "--tags", "k=" + "v" * 256, "k" * 128 + "=v"),
    (*TUNE_ARGS, "--max-jobs", "3", "--max-parallel", "3"),
    (*TUNE_ARGS, "--job-name", "t" * 32),
]


@pytest.mark.parametrize("argv", ACCEPTED, ids=[" ".join(a)[-50:] for a in ACCEPTED])
def test_values_at_the_edge_are_taken(capsys, argv):
    assert cli.main([*argv, "--dry-run", "--region", "eu-west-1"]) == 0, capsys.readouterr().err


def test_hyperparameter_count_limit(capsys, tmp_path):
    hp = tmp_path / "hp.json"
    for count, status in ((100, 0), (101, 2)):
        hp.write_text(json.dumps({f"k{i}": i for i in range(count)}))
        assert (
            cli.main(
                [*TRAIN_ARGS, "--hyperparameters", str(hp), "--dry-run", "--region", "eu-west-1"]
            )
            == status
        )
    assert "101 hyperparameters; SageMaker takes at most 100" in capsys.readouterr().err


def test_a_json_document_over_6_mb_is_refused(capsys, tmp_path):
    from launcher.payloads import MAX_BODY

    document = tmp_path / "rows.json"
    for size, status in ((MAX_BODY, 0), (MAX_BODY + 1, 2)):
        document.write_text('{"instances": [' + " " * (size - 17) + "]}")
        assert document.stat().st_size == size
        argv = [
            "invoke",
            "--endpoint",
            "e",
            "--input",
            str(document),
            "--dry-run",
            "--region",
            "eu-west-1",
        ]
        assert cli.main(argv) == status
    assert "is over 6 MB" in capsys.readouterr().err


def test_tag_count_limit(capsys):
    for count, status in ((50, 0), (51, 2)):
        tags = [f"k{i}=v" for i in range(count)]
        assert (
            cli.main([*TRAIN_ARGS, "--tags", *tags, "--dry-run", "--region", "eu-west-1"]) == status
        )
    assert "51 tags; AWS takes at most 50 per resource" in capsys.readouterr().err
