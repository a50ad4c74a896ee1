"""Starting serve: a bad model fails fast with one clear line; workers and port follow SageMaker."""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import socket
import time

import numpy as np
import pytest
import requests
from serve_harness import Server, run_serve, save_model, train_numeric


def refused(base, **env) -> str:
    done = run_serve(base, **env)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "Booting worker" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if "cannot serve:" in line]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_missing_model_folder(tmp_path):
    assert "does not exist" in refused(tmp_path / "ml")


def test_empty_model_folder(tmp_path):
    (tmp_path / "ml" / "model").mkdir(parents=True)
    assert "it is empty" in refused(tmp_path / "ml")


def test_pickled_model_is_refused(tmp_path):
    booster, _ = train_numeric(tmp_path / "ml", "binary:logistic")
    (tmp_path / "ml" / "model" / "xgboost-model").write_bytes(pickle.dumps(booster))
    assert "pickle" in refused(tmp_path / "ml")


def test_garbage_model_file(tmp_path):
    model = tmp_path / "ml" / "model"
    model.mkdir(parents=True)
    (model / "xgboost-model").write_bytes(b"{not a model at all")
    assert "not an XGBoost model" in refused(tmp_path / "ml")


def test_metadata_that_does_not_match(tmp_path):
    train_numeric(tmp_path / "ml", "binary:logistic", n_features=5)
    path = tmp_path / "ml" / "model" / "metadata.json"
    meta = json.loads(path.read_text())
    meta["feature_names"] = meta["feature_names"][:3]
    path.write_text(json.dumps(meta))
    assert "lists 3 features but the model has 5" in refused(tmp_path / "ml")


def test_bad_settings_are_named(tmp_path):
    train_numeric(tmp_path / "ml", "binary:logistic")
    assert "SAGEMAKER_MODEL_SERVER_WORKERS" in refused(
        tmp_path / "ml", SAGEMAKER_MODEL_SERVER_WORKERS="many"
    )
    assert "probability" in refused(tmp_path / "ml", SAGEMAKER_INFERENCE_OUTPUT="colour")


def test_model_without_metadata_in_json_format(tmp_path):
    """A model saved by plain XGBoost (no metadata.json) is served from what the model says."""
    booster, _ = train_numeric(tmp_path / "ml", "binary:logistic")
    (tmp_path / "ml" / "model" / "metadata.json").unlink()
    save_model(tmp_path / "ml", booster, None, fmt="json")
    server = Server(tmp_path / "ml", tmp_path / "serve.log", workers=1).wait_ready()
    try:
        answer = server.invoke("1,2,3,4,5", "text/csv")
        assert answer.status_code == 200
        expected = booster.inplace_predict(np.array([[1, 2, 3, 4, 5]], dtype=np.float32))
        assert float(answer.text) == pytest.approx(float(expected[0]), rel=1e-6)
    finally:
        assert server.stop() == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_port_and_worker_count_from_the_environment(tmp_path):
    train_numeric(tmp_path / "ml", "binary:logistic")
    port = free_port()
    server = Server(
        tmp_path / "ml",
        tmp_path / "serve.log",
        workers=3,
        SAGEMAKER_BIND_TO_PORT=str(port),
        SAGEMAKER_MODEL_SERVER_TIMEOUT="30",
    ).wait_ready()
    try:
        assert server.port == port
        workers = server.worker_processes()
        assert len(workers) == 3
        # Every forked worker predicts with the Booster it loaded after the fork.
        pids = {int(pid) for pid in re.findall(r"worker (\d+) loaded the model", server.log)}
        assert pids == {w.pid for w in workers}
        answers = [server.invoke("1,2,3,4,5", "text/csv") for _ in range(30)]
        assert {a.status_code for a in answers} == {200}
    finally:
        assert server.stop() == 0


def test_killed_worker_is_replaced(tmp_path):
    train_numeric(tmp_path / "ml", "binary:logistic")
    server = Server(tmp_path / "ml", tmp_path / "serve.log", workers=1).wait_ready()
    try:
        (worker,) = server.worker_processes()
        worker.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            children = server.worker_processes()
            if (
                children
                and children[0].pid != worker.pid
                and server.log.count("loaded the model") == 2
            ):
                break
            time.sleep(0.05)
        assert requests.get(server.url("/ping"), timeout=5).status_code == 200
        assert server.invoke("1,2,3,4,5", "text/csv").status_code == 200
    finally:
        assert server.stop() == 0


def test_default_workers_follow_affinity_and_cgroup_quota(tmp_path, monkeypatch):
    from xgb_container import cpus, serving

    affinity = len(os.sched_getaffinity(0))
    monkeypatch.setattr(cpus, "CGROUP_ROOT", tmp_path)
    monkeypatch.delenv("SAGEMAKER_MODEL_SERVER_WORKERS", raising=False)
    quota = tmp_path / "cpu.max"
    quota.write_text("max 100000\n")
    assert serving.gunicorn_options()["workers"] == affinity
    quota.write_text("50000 100000\n")
    assert serving.gunicorn_options()["workers"] == 1
    quota.write_text(f"{affinity * 200000} 100000\n")
    assert serving.gunicorn_options()["workers"] == affinity
