"""sagemaker_launch.py --local: the real image in real containers on the local Docker engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest
from conftest import engine_missing
from emulators import ROOT_DIR

LAUNCH = ROOT_DIR / "sagemaker_launch.py"
DATA = ROOT_DIR / "local_test" / "test_dir" / "input" / "data"
HYPERPARAMETERS = ROOT_DIR / "local_test" / "test_dir" / "input" / "config" / "hyperparameters.json"
LABEL = "sagemaker-launch"

pytestmark = [
    pytest.mark.docker,
    pytest.mark.slow,
    pytest.mark.skipif(engine_missing() is not None, reason=str(engine_missing())),
]


def launch(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LAUNCH), *args, "--local"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def leftovers(job: str) -> str:
    """Containers and networks of ``job`` still on the engine."""
    found = []
    for kind in ("ps", "network"):
        args = ["docker", kind, "ls", "-q"] if kind == "network" else ["docker", "ps", "-aq"]
        done = subprocess.run(
            [*args, "--filter", f"label={LABEL}={job}"], capture_output=True, text=True, check=True
        )
        found += done.stdout.split()
    return " ".join(found)


def read_config(base: Path, name: str) -> dict:
    return json.loads((base / "input" / "config" / f"{name}.json").read_text())


def test_single_host_training_lays_out_opt_ml_and_reports_metrics(image, tmp_path):
    job = f"launch-{uuid.uuid4().hex[:8]}"
    done = launch(
        "train", "--image", image, "--local-dir", str(tmp_path), "--job-name", job,
        "--train", str(DATA / "train"), "--validation", str(DATA / "validation"),
        "--content-type", "text/csv; header=present",
        "--hyperparameters", str(HYPERPARAMETERS), "--hp", "num_round=40",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    base = tmp_path / job / "hosts" / "algo-1"
    expected = json.loads(HYPERPARAMETERS.read_text())
    expected["num_round"] = "40"
    assert read_config(base, "hyperparameters") == expected
    assert read_config(base, "resourceconfig") == {
        "current_host": "algo-1",
        "hosts": ["algo-1"],
        "network_interface_name": "eth0",
    }
    assert read_config(base, "inputdataconfig")["train"] == {
        "ContentType": "text/csv; header=present",
        "TrainingInputMode": "File",
        "S3DistributionType": "FullyReplicated",
        "RecordWrapperType": "None",
    }
    assert (base / "input" / "data" / "train" / "german_credit_train.csv").read_bytes() == (
        DATA / "train" / "german_credit_train.csv"
    ).read_bytes()

    with tarfile.open(tmp_path / job / "model.tar.gz") as tar:
        assert {"xgboost-model", "metadata.json"} <= set(tar.getnames())
    assert f"training job {job} completed" in done.stdout
    # the image's MetricDefinitions applied to the container's log, as SageMaker does
    metrics = dict(
        line.removeprefix("metric ").split(" = ")
        for line in done.stdout.splitlines()
        if line.startswith("metric ")
    )
    assert 0.6 < float(metrics["validation:auc"]) <= 1.0
    assert "algo-1 | " in done.stderr
    assert leftovers(job) == ""


def test_failed_training_prints_its_failure_reason(image, tmp_path):
    job = f"launch-{uuid.uuid4().hex[:8]}"
    hp = tmp_path / "hp.json"
    hp.write_text(json.dumps({"num_rounds": 5}))
    done = launch(
        "train", "--image", image, "--local-dir", str(tmp_path), "--job-name", job,
        "--train", str(DATA / "train"), "--hyperparameters", str(hp),
    )  # fmt: skip
    assert done.returncode == 1
    reason = [line for line in done.stderr.splitlines() if line.startswith(f"training job {job}")]
    assert reason, done.stderr[-2000:]
    assert reason[0].startswith(f"training job {job} failed: algo-1: ")
    assert "num_round" in reason[0]  # the first line of the container's output/failure
    assert leftovers(job) == ""


def test_missing_local_image_is_named(tmp_path):
    done = launch(
        "train", "--image", "launch-test/absent:0", "--local-dir", str(tmp_path),
        "--train", str(DATA / "train"),
    )  # fmt: skip
    assert done.returncode == 2
    assert "image launch-test/absent:0 is not a local image" in done.stderr


def test_two_hosts_share_the_train_files_on_a_private_network(image, tmp_path):
    """ShardedByS3Key on 2 hosts: disjoint shards, one model, hosts reach each other by name."""
    rows = (DATA / "train" / "german_credit_train.csv").read_text().splitlines()
    header, body = rows[0], rows[1:]
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(4):
        (shards / f"part-{i}.csv").write_text("\n".join([header, *body[i::4]]) + "\n")
    job = f"launch-{uuid.uuid4().hex[:8]}"
    done = launch(
        "train", "--image", image, "--local-dir", str(tmp_path), "--job-name", job,
        "--instance-count", "2", "--distribution", "ShardedByS3Key",
        "--train", str(shards), "--validation", str(DATA / "validation"),
        "--content-type", "text/csv; header=present",
        "--hyperparameters", str(HYPERPARAMETERS), "--hp", "num_round=30",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    hosts = tmp_path / job / "hosts"
    seen = {}
    for host in ("algo-1", "algo-2"):
        config = read_config(hosts / host, "resourceconfig")
        assert config["current_host"] == host
        assert config["hosts"] == ["algo-1", "algo-2"]
        seen[host] = sorted(p.name for p in (hosts / host / "input" / "data" / "train").iterdir())
        assert (
            hosts / host / "input" / "data" / "validation" / "german_credit_validation.csv"
        ).exists()
    assert seen == {"algo-1": ["part-0.csv", "part-2.csv"], "algo-2": ["part-1.csv", "part-3.csv"]}
    assert read_config(hosts / "algo-1", "inputdataconfig")["train"]["S3DistributionType"] == (
        "ShardedByS3Key"
    )
    # one training across both hosts: only the first host writes the model
    assert (hosts / "algo-1" / "model" / "xgboost-model").exists()
    assert not any((hosts / "algo-2" / "model").iterdir())
    assert (tmp_path / job / "model.tar.gz").exists()
    assert "algo-2 | " in done.stderr
    assert leftovers(job) == ""


@pytest.fixture(scope="module")
def numeric_job(image, tmp_path_factory):
    """A model trained with --local on numbers (label first), and rows to score with it."""
    import numpy as np

    root = tmp_path_factory.mktemp("numeric")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    (root / "train").mkdir()
    np.savetxt(root / "train" / "rows.csv", np.column_stack([y, X]), delimiter=",", fmt="%.6g")
    job = f"launch-{uuid.uuid4().hex[:8]}"
    done = launch(
        "train", "--image", image, "--local-dir", str(root), "--job-name", job,
        "--train", str(root / "train"), "--hp", "num_round=10", "--hp", "objective=binary:logistic",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return root, job


def expected_scores(model_archive: Path, rows: Path, tmp_path: Path) -> list[float]:
    """What XGBoost itself predicts for ``rows`` with the trained model."""
    import numpy as np
    import xgboost as xgb

    with tarfile.open(model_archive) as tar:
        tar.extractall(tmp_path / "model", filter="data")
    booster = xgb.Booster(model_file=str(tmp_path / "model" / "xgboost-model"))
    X = np.loadtxt(rows, delimiter=",", dtype=np.float32, ndmin=2)
    return booster.predict(xgb.DMatrix(X, feature_names=booster.feature_names)).tolist()


def scores(text: str) -> list[float]:
    return [float(line.split(",")[0]) for line in text.splitlines() if line.strip()]


def test_deploy_invoke_and_cleanup_a_local_endpoint(image, numeric_job, tmp_path):
    root, job = numeric_job
    endpoint = f"launch-ep-{uuid.uuid4().hex[:6]}"
    done = launch(
        "deploy", "--image", image, "--local-dir", str(root), "--training-job", job,
        "--name", endpoint, timeout=300,
    )  # fmt: skip
    try:
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip() == endpoint
        rows = tmp_path / "applicants.csv"
        rows.write_text("".join(f"{i / 10:.1f},{-i / 7:.3f},0.5\n" for i in range(-12, 13)))
        answer = launch(
            "invoke", "--endpoint", endpoint, "--input", str(rows), "--accept", "text/csv",
            "--rows-per-request", "10",
        )  # fmt: skip
        assert answer.returncode == 0, answer.stderr
        want = expected_scores(root / job / "model.tar.gz", rows, tmp_path)
        assert scores(answer.stdout) == pytest.approx(want, abs=1e-5)
    finally:
        gone = launch("cleanup", "--endpoint", endpoint)
    assert gone.stdout.strip() == f"deleted endpoint {endpoint} (container stopped and removed)"
    assert leftovers(endpoint) == ""
    again = launch("cleanup", "--endpoint", endpoint)
    assert again.stdout.strip() == f"endpoint {endpoint}: not found"


def test_local_batch_answers_one_line_per_input_line(image, numeric_job, tmp_path):
    root, job = numeric_job
    inputs = tmp_path / "in"
    (inputs / "more").mkdir(parents=True)
    small = inputs / "small.csv"
    small.write_text("0.1,0.2,0.3\n-1,2,0\n")
    large = inputs / "more" / "large.csv"  # over 1 MB: several MultiRecord requests
    large.write_text(
        "".join(f"{(i % 97) / 31:.6f},{(i % 89) / -23:.6f},{i % 7}.000001\n" for i in range(45000))
    )
    batch_job = f"launch-batch-{uuid.uuid4().hex[:6]}"
    done = launch(
        "batch", "--image", image, "--local-dir", str(root), "--training-job", job,
        "--input", str(inputs), "--content-type", "text/csv", "--accept", "text/csv",
        "--max-payload-mb", "1", "--job-name", batch_job, "--output-s3", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"transform job {batch_job} completed" in done.stdout
    for source, out in ((small, "small.csv.out"), (large, "more/large.csv.out")):
        got = scores((tmp_path / "out" / out).read_text())
        assert got == pytest.approx(
            expected_scores(root / job / "model.tar.gz", source, tmp_path / out), abs=1e-5
        )
    assert leftovers(batch_job) == ""


def test_deploy_of_an_unservable_model_names_the_problem(image, tmp_path):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    endpoint = f"launch-bad-{uuid.uuid4().hex[:6]}"
    done = launch(
        "deploy", "--image", image, "--model-data", str(empty), "--name", endpoint,
        "--local-dir", str(tmp_path), timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"the serving container {endpoint} stopped" in done.stderr
    assert leftovers(endpoint) == ""


PEERS = '''
"""Stands in for training in a multi-host test: every host must reach every other by name."""
import json, pathlib, signal, socket, sys, threading, time

base = pathlib.Path("/opt/ml")
config = json.loads((base / "input/config/resourceconfig.json").read_text())
hp = json.loads((base / "input/config/hyperparameters.json").read_text())
me, hosts = config["current_host"], config["hosts"]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # as the real program, a stop ends cleanly
if hp.get("hang_on") == me:
    signal.pause()  # a job that never ends by itself
if hp.get("fail_on") == me:
    (base / "output/failure").write_text(f"{me} was told to fail\\n")
    sys.exit(3)
others = [h for h in hosts if h != me]
server = socket.create_server(("0.0.0.0", 7777))
accepted = []
threading.Thread(target=lambda: [accepted.append(server.accept()) for _ in others], daemon=True).start()
peers = {}
deadline = time.monotonic() + float(hp.get("peer_timeout", "60"))
for host in others:
    while True:
        try:
            peers[host] = socket.create_connection((host, 7777), timeout=2).getpeername()[0]
            break
        except OSError:
            if time.monotonic() > deadline:
                (base / "output/failure").write_text(f"{me} cannot reach {host}\\n")
                sys.exit(4)
            time.sleep(0.1)
while len(accepted) < len(others) and time.monotonic() < deadline:
    time.sleep(0.05)
files = sorted(p.name for p in (base / "input/data/train").iterdir())
(base / "output/data/shard.json").write_text(json.dumps(files))
if me == hosts[0]:
    (base / "model/peers.json").write_text(json.dumps(peers))
print(f"[0]#011train-peers:{len(peers)}")
'''


@pytest.fixture(scope="module")
def peers_image(image, tmp_path_factory):
    """The project image whose ``train`` only checks that hosts reach each other (made here)."""
    context = tmp_path_factory.mktemp("peers-image")
    (context / "peers.py").write_text(PEERS)
    (context / "Dockerfile").write_text(
        f'FROM {image}\nCOPY peers.py /peers.py\nENTRYPOINT ["/opt/venv/bin/python", "/peers.py"]\n'
    )
    tag = f"launch-test/peers:{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["docker", "build", "-q", "-t", tag, str(context)],
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        capture_output=True,
        check=True,
    )
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def test_three_hosts_reach_each_other_by_name_and_share_the_files(peers_image, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(5):
        (shards / f"part-{i}.csv").write_text(f"{i},1\n")
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps([{"Name": "train:peers", "Regex": r"#011train-peers:(\S+)"}]))
    job = f"launch-{uuid.uuid4().hex[:8]}"
    done = launch(
        "train", "--image", peers_image, "--local-dir", str(tmp_path), "--job-name", job,
        "--instance-count", "3", "--distribution", "ShardedByS3Key", "--train", str(shards),
        "--metric-definitions", str(metrics), "--hp", "num_round=1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    hosts = tmp_path / job / "hosts"
    shard = {
        h: json.loads((hosts / h / "output" / "data" / "shard.json").read_text())
        for h in ("algo-1", "algo-2", "algo-3")
    }
    assert shard == {
        "algo-1": ["part-0.csv", "part-3.csv"],
        "algo-2": ["part-1.csv", "part-4.csv"],
        "algo-3": ["part-2.csv"],
    }
    with tarfile.open(tmp_path / job / "model.tar.gz") as tar:
        peers = json.load(tar.extractfile("peers.json"))
    assert sorted(peers) == ["algo-2", "algo-3"]
    assert len(set(peers.values())) == 2
    assert "metric train:peers = 2" in done.stdout
    assert leftovers(job) == ""


def test_the_host_that_failed_first_is_named_in_the_failure_reason(peers_image, tmp_path):
    """algo-2 fails at once; algo-1 then gives up on it: the reason is algo-2's."""
    job = f"launch-{uuid.uuid4().hex[:8]}"
    done = launch(
        "train", "--image", peers_image, "--local-dir", str(tmp_path), "--job-name", job,
        "--instance-count", "2", "--train", str(DATA / "train"), "--hp", "fail_on=algo-2",
        "--hp", "peer_timeout=10",
    )  # fmt: skip
    assert (
        "algo-1 cannot reach algo-2"
        in (tmp_path / job / "hosts" / "algo-1" / "output" / "failure").read_text()
    )
    assert done.returncode == 1
    assert f"training job {job} failed: algo-2: algo-2 was told to fail" in done.stderr
    assert leftovers(job) == ""


def test_a_job_over_its_max_run_is_stopped(peers_image, tmp_path):
    job = f"launch-{uuid.uuid4().hex[:8]}"
    done = launch(
        "train", "--image", peers_image, "--local-dir", str(tmp_path), "--job-name", job,
        "--train", str(DATA / "train"), "--hp", "hang_on=algo-1", "--max-run", "3",
    )  # fmt: skip
    assert done.returncode == 1
    assert f"training job {job} stopped: MaxRuntimeInSeconds (3) exceeded" in done.stderr
    assert leftovers(job) == ""


def test_local_batch_of_a_header_csv_sends_the_header_once_and_scores_every_row(image, tmp_path):
    """A loan table with a header, over 1 MB: cut as SageMaker cuts it, header in the first
    request only; every row is scored, in order."""
    job = f"launch-{uuid.uuid4().hex[:8]}"
    trained = launch(
        "train", "--image", image, "--local-dir", str(tmp_path), "--job-name", job,
        "--train", str(DATA / "train"), "--content-type", "text/csv; header=present",
        "--hyperparameters", str(HYPERPARAMETERS), "--hp", "num_round=20",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    # the test file as it is, label column included (the model knows where its label was)
    header, *rows = (DATA / "test" / "german_credit_test.csv").read_text().splitlines()
    table = tmp_path / "in" / "applicants.csv"
    table.parent.mkdir()
    table.write_text("\n".join([header, *rows * 40]) + "\n")
    assert table.stat().st_size > 1024 * 1024
    done = launch(
        "batch", "--image", image, "--local-dir", str(tmp_path), "--training-job", job,
        "--input", str(table.parent), "--content-type", "text/csv",
        "--max-payload-mb", "1", "--output-s3", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    got = scores((tmp_path / "out" / "applicants.csv.out").read_text())
    assert len(got) == 40 * len(rows)
    assert got == got[: len(rows)] * 40
    assert len(set(got)) > 10


def test_tune_local_runs_seeded_random_trials_and_names_the_best(image, tmp_path):
    import random

    from launcher.tuning import parse_range

    job = f"tune-{uuid.uuid4().hex[:6]}"
    ranges = ["eta=0.05:0.5:log", "max_depth=2:5"]
    done = launch(
        "tune", "--image", image, "--local-dir", str(tmp_path), "--job-name", job,
        "--train", str(DATA / "train"), "--validation", str(DATA / "validation"),
        "--content-type", "text/csv; header=present", "--hyperparameters", str(HYPERPARAMETERS),
        "--hp", "num_round=15", "--range", ranges[0], "--range", ranges[1],
        "--max-jobs", "2", "--max-parallel", "1", "--seed", "5",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rng = random.Random(5)
    for number in (1, 2):
        trial = f"{job}-{number:03d}"
        expected = {r.name: r.sample(rng) for r in map(parse_range, ranges)}
        config = read_config(tmp_path / job / trial / "hosts" / "algo-1", "hyperparameters")
        assert {k: config[k] for k in expected} == expected  # the seeded draw, as sent
        assert config["num_round"] == "15"
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["trial", "status", "validation:auc"]
    rows = {line.split()[0]: line.split() for line in lines[1:3]}
    assert set(rows) == {f"{job}-001", f"{job}-002"}
    aucs = {name: float(row[2]) for name, row in rows.items()}
    best = max(aucs, key=aucs.get)
    assert lines[-2].startswith(f"best {best} (validation:auc = ")
    assert lines[-1] == best
