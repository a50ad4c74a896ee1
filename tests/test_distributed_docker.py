"""Distributed training in containers of the image on a private Docker network (algo-1..N),
driven by local_test/distributed_local.sh exactly as a user runs it. Skips, saying so,
where no Docker engine answers."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from conftest import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def run_script(
    image: str, root, prefix: str = "dist-test-x", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "local_test" / "distributed_local.sh"), image],
        env={
            **os.environ,
            "ML_ROOT": str(root),
            "CONTAINER_PREFIX": prefix,
            "CPUS_PER_HOST": "1",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.parametrize("hosts,distribution", [("3", "ShardedByS3Key"), ("2", "FullyReplicated")])
def test_containers_train_one_model_together(image, tmp_path, hosts, distribution):
    root = tmp_path / "hosts"
    prefix = f"dist-test-{uuid.uuid4().hex[:8]}"
    done = run_script(image, root, prefix, HOSTS=hosts, DISTRIBUTION=distribution)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert f"validation: 150 rows from {hosts} host(s)" in done.stdout
    first = root / "algo-1"
    assert (first / "model" / "xgboost-model").exists()
    report = json.loads((first / "output" / "data" / "evaluation-validation.json").read_text())
    assert report["roc_auc"] > 0.7
    for i in range(2, int(hosts) + 1):
        other = root / f"algo-{i}"
        assert not (other / "model").exists() or not any((other / "model").iterdir())
    left = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"name={prefix}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
    )
    assert left.stdout.strip() == ""  # the script removed its containers


def test_bad_host_count_is_refused(tmp_path):
    done = run_script("unused:tag", tmp_path / "hosts", HOSTS="1")
    assert done.returncode == 2
    assert "HOSTS must be a number of at least 2" in done.stderr
