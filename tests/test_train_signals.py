"""Stopping a job: SIGTERM saves the model so far; a killed job resumes bit-identically."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import xgboost as xgb
from conftest import TEST_DIR, Job, program_env
from xgb_container import checkpoints, hyperparameters
from xgb_container.matrices import to_dmatrix
from xgb_container.paths import Layout
from xgb_container.training import EXIT_TERMINATED, load_channels

PIPE_SIZE = 4096  # the child blocks on a full pipe, so it cannot run far ahead of the reader


def german(tmp_path, name: str, **hp: str) -> Job:
    base = tmp_path / name
    shutil.copytree(TEST_DIR, base)
    job = Job(base)
    params = json.loads((base / "input" / "config" / "hyperparameters.json").read_text())
    params.pop("early_stopping_rounds")
    params.update(hp)
    job.write_config("hyperparameters", params)
    job.write_config("checkpointconfig", {"LocalPath": str(base / "checkpoints")})
    return job


def start(job: Job) -> tuple[subprocess.Popen, object]:
    """The train program with its stdout on a small pipe that the test reads line by line."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    process = subprocess.Popen(
        [sys.executable, "-m", "xgb_container", "train"],
        env=program_env(job.base),
        stdout=write_end,
        stderr=subprocess.STDOUT,
    )
    os.close(write_end)
    return process, os.fdopen(read_end, encoding="utf-8", errors="replace")


def read_until_round(stream, round_number: int, deadline: float) -> list[str]:
    lines = []
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(f"[{round_number}]\t"):
            return lines
    output = "".join(lines)
    raise AssertionError(f"the job never reached round {round_number}:\n{output}")


def predictions(job: Job) -> np.ndarray:
    layout = Layout(job.base)
    hp = hyperparameters.parse(layout.hyperparameters())
    matrix = to_dmatrix(load_channels(layout, hp)["test"], hp)
    booster = xgb.Booster(model_file=bytearray((job.model_dir / "xgboost-model").read_bytes()))
    return booster.predict(matrix)


def test_sigterm_saves_checkpoint_and_model_then_exits(tmp_path):
    job = german(tmp_path, "stopped", num_round="1000000", checkpoint_frequency="100000")
    process, stream = start(job)
    read_until_round(stream, 5, time.monotonic() + 120)
    process.send_signal(signal.SIGTERM)
    rest = stream.read()  # keep reading so the job is never blocked on its output
    assert process.wait(timeout=120) == EXIT_TERMINATED, rest
    stream.close()
    assert "SIGTERM received" in rest and "Stopped by SIGTERM after" in rest
    meta = json.loads((job.model_dir / "metadata.json").read_text())
    rounds = meta["extra"]["num_boosted_rounds"]
    assert meta["extra"]["stopped_by_sigterm"] is True
    assert 6 <= rounds < 1_000_000
    booster = xgb.Booster(model_file=bytearray((job.model_dir / "xgboost-model").read_bytes()))
    assert booster.num_boosted_rounds() == rounds
    saved = checkpoints.candidates(job.base / "checkpoints")
    assert len(saved) == 1 and saved[0].name.endswith(f".{rounds:08d}.ubj")
    assert not job.failure
    assert sorted(p.name for p in job.model_dir.iterdir()) == ["metadata.json", "xgboost-model"]


def test_killed_job_resumes_to_the_same_model(tmp_path):
    settings = {"num_round": "300", "checkpoint_frequency": "10", "nthread": "1"}
    whole = german(tmp_path, "whole", **settings)
    done = whole.train()
    assert done.returncode == 0, done.stderr

    job = german(tmp_path, "killed", **settings)
    process, stream = start(job)
    read_until_round(stream, 25, time.monotonic() + 120)
    process.kill()
    process.wait(timeout=60)
    stream.close()
    assert process.returncode == -signal.SIGKILL
    folder = job.base / "checkpoints"
    newest_path = checkpoints.candidates(folder)[0]
    newest = int(checkpoints.PATTERN.match(newest_path.name).group(2))
    assert 20 <= newest < 300  # stopped mid-way, after at least two checkpoints
    assert not (job.model_dir / "xgboost-model").exists()
    # A later checkpoint that is broken (a half-synced upload, say) is skipped on resume.
    broken = newest_path.with_name(newest_path.name.replace(f"{newest:08d}", f"{299:08d}"))
    broken.write_bytes(b"{not a model")

    resumed = job.train()
    assert resumed.returncode == 0, resumed.stderr
    assert f"Skipping checkpoint {broken.name}" in resumed.stdout
    assert f"Resuming from checkpoint {newest_path.name}" in resumed.stdout
    assert "another training" not in resumed.stdout
    assert f"[{newest}]\t" in resumed.stdout and "[0]\t" not in resumed.stdout
    np.testing.assert_array_equal(predictions(job), predictions(whole))


def test_sigterm_without_saving_leaves_no_model(tmp_path):
    job = german(tmp_path, "unsaved", num_round="1000000", save_model_on_termination="false")
    (job.base / "input" / "config" / "checkpointconfig.json").unlink()
    process, stream = start(job)
    read_until_round(stream, 3, time.monotonic() + 120)
    process.send_signal(signal.SIGTERM)
    rest = stream.read()
    assert process.wait(timeout=120) == EXIT_TERMINATED, rest
    stream.close()
    assert not (job.model_dir / "xgboost-model").exists()
    assert not (job.base / "checkpoints").exists()
    assert not job.failure


def test_checkpoints_of_another_job_are_not_resumed(tmp_path):
    """Issue 9.1: a second job with other settings in the same checkpoint folder."""
    first = german(tmp_path, "first", num_round="40", checkpoint_frequency="10")
    assert first.train().returncode == 0
    folder = first.base / "checkpoints"
    theirs = sorted(p.name for p in folder.iterdir())
    assert len(theirs) == 3

    settings = {"num_round": "30", "checkpoint_frequency": "10", "eta": "0.2"}
    alone = german(tmp_path, "alone", **settings)
    assert alone.train().returncode == 0
    second = german(tmp_path, "second", **settings)
    second.write_config("checkpointconfig", {"LocalPath": str(folder)})
    done = second.train()
    assert done.returncode == 0, done.stderr
    assert "Ignoring checkpoints of another training" in done.stdout
    assert "differs in: params.eta, settings.num_round" in done.stdout
    assert "it starts from round 0" in done.stdout and "Resuming" not in done.stdout
    assert "[0]\t" in done.stdout
    meta = json.loads((second.model_dir / "metadata.json").read_text())
    assert meta["extra"]["num_boosted_rounds"] == 30
    np.testing.assert_array_equal(predictions(second), predictions(alone))
    # The first job's files are left as they were; the second job's are its own.
    names = sorted(p.name for p in folder.iterdir())
    assert set(theirs) <= set(names) and len(names) == 6
    # The first job restarted (a spot restart) still resumes from its own files.
    again = first.train()
    assert f"Resuming from checkpoint {theirs[-1]}" in again.stdout, again.stdout
