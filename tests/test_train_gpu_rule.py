"""Multi-host GPU training needs NCCL, which the image lacks: refused at start, by name.

No GPU is needed: the refusal comes before any data is read or any host is contacted.
"""

from __future__ import annotations

import numpy as np
import pytest
from xgb_container import gpu
from xgb_container.errors import UserError


def two_host_job(job, **hyper: object):
    job.write_config("resourceconfig", {"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]})
    np.savetxt(job.channel("train") / "a.csv", [[1, 2.0], [0, 1.0]], delimiter=",")
    job.hyperparameters(num_round=2, **hyper)
    return job


@pytest.mark.skipif(gpu.nccl_available(), reason="this XGBoost has NCCL: nothing to refuse")
@pytest.mark.parametrize("setting", [{"device": "cuda"}, {"device": "cuda:0"}])
def test_multi_host_cuda_without_nccl_is_refused_at_start(job, setting):
    done = two_host_job(job, **setting).train(XGB_DIST_RESOLVE_TIMEOUT="0")
    assert done.returncode == 1
    line = job.failure.splitlines()[0]
    assert line.startswith(f"device={setting['device']} on 2 hosts needs NCCL, which this image")
    assert "does not resolve" not in job.failure  # refused before the roll call


def test_one_host_cuda_and_multi_host_cpu_are_not_refused():
    gpu.check({"device": "cuda"}, ["algo-1"])
    gpu.check({"device": "cpu"}, ["algo-1", "algo-2"])
    gpu.check({}, ["algo-1", "algo-2"])


def test_the_rule_follows_nccl(monkeypatch):
    monkeypatch.setattr(gpu, "nccl_available", lambda: True)
    gpu.check({"device": "cuda"}, ["algo-1", "algo-2"])
    monkeypatch.setattr(gpu, "nccl_available", lambda: False)
    with pytest.raises(UserError, match="tree_method=gpu_hist|needs NCCL"):
        gpu.check({"tree_method": "gpu_hist"}, ["algo-1", "algo-2"])
