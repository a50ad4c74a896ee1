"""Quality of distributed training on the Taiwan credit data: sharded hosts match one host.

The 2-host and 3-host models, each host holding a disjoint shard of the training rows, must
reach a validation ROC AUC within 0.005 of the single-host model trained on all the rows.
Hosts are network namespaces (needs root; skips, saying so, otherwise).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from conftest import TAIWAN, Job
from distributed_hosts import Hosts, write_csv
from netns import Network, available
from sklearn.metrics import roc_auc_score

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(available() is not None, reason=str(available())),
]

HYPER = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "tree_method": "hist",
    "max_depth": 4,
    "eta": 0.1,
    "num_round": 120,
}


@pytest.fixture(scope="module")
def taiwan() -> tuple[np.ndarray, np.ndarray]:
    """Label-first rows, shuffled once: 24,000 to train, 6,000 to validate."""
    table = pd.read_csv(TAIWAN).drop(columns=["ID"])
    label = table.pop("default payment next month")
    rows = np.column_stack([label.to_numpy(), table.to_numpy()]).astype(np.float64)
    rows = rows[np.random.default_rng(7).permutation(len(rows))]
    return rows[:24000], rows[24000:]


def auc(model_file, rows: np.ndarray) -> float:
    booster = xgb.Booster(model_file=str(model_file))
    features = xgb.DMatrix(rows[:, 1:], feature_names=booster.feature_names)
    return roc_auc_score(rows[:, 0], booster.predict(features))


@pytest.fixture(scope="module")
def single_host_auc(taiwan, tmp_path_factory) -> float:
    train, validation = taiwan
    job = Job(tmp_path_factory.mktemp("single") / "ml")
    job.write_config("resourceconfig", {"current_host": "algo-1", "hosts": ["algo-1"]})
    write_csv(job.channel("train") / "train.csv", train)
    write_csv(job.channel("validation") / "validation.csv", validation)
    job.hyperparameters(**HYPER)
    done = job.train(OMP_NUM_THREADS="1")
    assert done.returncode == 0, done.stderr
    return auc(job.model_dir / "xgboost-model", validation)


@pytest.mark.parametrize("count", [2, 3])
def test_sharded_hosts_match_single_host_auc(count, taiwan, single_host_auc, tmp_path):
    train, validation = taiwan
    cluster = Hosts(tmp_path, count)
    for i, host in enumerate(cluster.hosts):
        write_csv(cluster.channel(host.name, "train") / "part.csv", train[i::count])
        write_csv(cluster.channel(host.name, "validation") / "part.csv", validation[i::count])
    cluster.hyperparameters(**HYPER)
    with Network(count) as net:
        cluster.start(net)
        codes = cluster.wait(timeout=600)
    assert set(codes.values()) == {0}, cluster.hosts[0].log
    assert f"validation: 6000 rows from {count} host(s)" in cluster.hosts[0].log
    distributed_auc = auc(cluster.hosts[0].model, validation)
    print(f"{count} hosts: AUC {distributed_auc:.5f}, one host: {single_host_auc:.5f}")
    assert abs(distributed_auc - single_host_auc) <= 0.005
    assert single_host_auc > 0.77
