"""Distributed training on real separate hosts: processes in network namespaces.

Each host is its own network namespace with its own address, reaching the others by the
``algo-N`` names, as on SageMaker. Needs root (CI has it); skips, saying so, otherwise.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from conftest import GERMAN
from distributed_hosts import Hosts, synthetic, write_csv
from netns import Network, available
from sklearn.metrics import roc_auc_score
from xgb_container import formats
from xgb_container.metadata import ModelMetadata
from xgb_container.training import EXIT_TERMINATED

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(available() is not None, reason=str(available())),
]

DRIVER = Path(__file__).resolve().parent / "distributed_driver.py"
HYPER = {"objective": "binary:logistic", "eval_metric": "auc", "max_depth": 3, "eta": 0.3}


def model_auc(model_dir, rows: np.ndarray) -> float:
    booster = xgb.Booster(model_file=str(model_dir / "xgboost-model"))
    features = xgb.DMatrix(rows[:, 1:], feature_names=booster.feature_names)
    return roc_auc_score(rows[:, 0], booster.predict(features))


def test_two_hosts_sharded_header_csv_agree_on_categories(tmp_path):
    table = pd.read_csv(GERMAN)
    train, validation = table.iloc[:800], table.iloc[800:]
    # Shards sorted by purpose: each host sees purposes the other lacks.
    train = train.sort_values("purpose", kind="stable")
    cluster = Hosts(tmp_path, 2, content_type="text/csv; header=present")
    for i, host in enumerate(["algo-1", "algo-2"]):
        train.iloc[i * 400 : (i + 1) * 400].to_csv(
            cluster.channel(host, "train") / "t.csv", index=False
        )
        validation.iloc[i * 100 : (i + 1) * 100].to_csv(
            cluster.channel(host, "validation") / "v.csv", index=False
        )
    shards = [set(train.iloc[i * 400 : (i + 1) * 400]["purpose"]) for i in range(2)]
    assert shards[0] != shards[1]
    cluster.hyperparameters(
        num_round=30, label_column="creditability", positive_label="bad", **HYPER
    )
    with Network(2) as net:
        cluster.start(net)
        codes = cluster.wait()
    assert codes == {"algo-1": 0, "algo-2": 0}, cluster["algo-1"].log + cluster["algo-2"].log
    one, two = cluster["algo-1"], cluster["algo-2"]
    assert one.model.exists() and not two.wrote_model_dir()
    assert "train rows algo-1=400, algo-2=400" in one.log
    assert "validation: 200 rows from 2 host(s)" in one.log
    assert re.search(r"\[29\]\ttrain-auc:\S+\tvalidation-auc:\S+", one.log)
    assert not (two.job.base / "output" / "data").exists()
    meta = ModelMetadata.load(one.job.model_dir / "metadata.json")
    assert meta.categories["purpose"] == sorted(set(train["purpose"]))
    # The model reads the whole validation set through the merged categories.
    folder = tmp_path / "all-validation"
    folder.mkdir()
    validation.to_csv(folder / "v.csv", index=False)
    schema = formats.Schema(
        "csv-header",
        meta.feature_names,
        meta.feature_types,
        meta.categories,
        meta.label_column,
        meta.classes,
    )
    full = formats.load_channel(
        folder, "text/csv; header=present", positive_label="bad", schema=schema
    )
    booster = xgb.Booster(model_file=str(one.model))
    dm = xgb.DMatrix(
        full.X,
        feature_names=meta.feature_names,
        feature_types=meta.feature_types,
        enable_categorical=True,
    )
    full_auc = roc_auc_score(full.y, booster.predict(dm))
    assert full_auc > 0.72
    assert one.job.evaluation("validation")["roc_auc"] == pytest.approx(full_auc, abs=1e-6)


def test_three_hosts_replicated_take_disjoint_rows(tmp_path):
    rows, validation = synthetic(3000, seed=1), synthetic(600, seed=2)
    cluster = Hosts(tmp_path, 3, distribution="FullyReplicated")
    for host in ["algo-1", "algo-2", "algo-3"]:
        write_csv(cluster.channel(host, "train") / "all.csv", rows)
        write_csv(cluster.channel(host, "validation") / "all.csv", validation)
    cluster.hyperparameters(num_round=20, scale_pos_weight="auto", **HYPER)
    with Network(3) as net:
        cluster.start(net)
        codes = cluster.wait()
    assert set(codes.values()) == {0}, cluster["algo-1"].log
    one = cluster["algo-1"]
    # scale_pos_weight=auto counts the labels of all hosts, not of one third.
    ratio = (rows[:, 0] == 0).sum() / (rows[:, 0] == 1).sum()
    for host in cluster.hosts:
        assert f"scale_pos_weight=auto: {ratio:.6g}" in host.log
    assert "train rows algo-1=1000, algo-2=1000, algo-3=1000" in one.log
    assert "validation: 600 rows from 3 host(s)" in one.log
    assert not cluster["algo-2"].wrote_model_dir() and not cluster["algo-3"].wrote_model_dir()
    assert model_auc(one.job.model_dir, validation) > 0.75


def test_host_without_data_leaves_and_the_others_train(tmp_path):
    rows, validation = synthetic(2000, seed=3), synthetic(400, seed=4)
    cluster = Hosts(tmp_path, 3)
    cluster.channel("algo-1", "train")  # the first host's shard is empty
    write_csv(cluster.channel("algo-2", "train") / "a.csv", rows[:1000])
    write_csv(cluster.channel("algo-3", "train") / "b.csv", rows[1000:])
    write_csv(cluster.channel("algo-2", "validation") / "v.csv", validation)
    cluster.hyperparameters(num_round=20, **HYPER)
    with Network(3) as net:
        cluster.start(net)
        codes = cluster.wait()
    assert codes == {"algo-1": 0, "algo-2": 0, "algo-3": 0}, cluster["algo-2"].log
    assert "algo-1 has no training rows: it leaves the training" in cluster["algo-1"].log
    assert not cluster["algo-1"].wrote_model_dir() and not cluster["algo-3"].wrote_model_dir()
    two = cluster["algo-2"]
    assert "participants ['algo-2', 'algo-3']" in two.log
    assert model_auc(two.job.model_dir, validation) > 0.75


def test_no_host_has_data_fails_everywhere(tmp_path):
    cluster = Hosts(tmp_path, 2)
    for host in ["algo-1", "algo-2"]:
        cluster.channel(host, "train")
    cluster.hyperparameters(num_round=5, **HYPER)
    with Network(2) as net:
        cluster.start(net)
        codes = cluster.wait()
    assert all(code != 0 for code in codes.values())
    for host in cluster.hosts:
        assert host.job.failure.startswith("no host has training rows (hosts: algo-1, algo-2)")


def test_host_that_never_arrives_fails_the_job_in_bounded_time(tmp_path):
    cluster = Hosts(tmp_path, 2)
    write_csv(cluster.channel("algo-1", "train") / "a.csv", synthetic(200))
    cluster.hyperparameters(num_round=5, **HYPER)
    with Network(2) as net:
        cluster.start(net, ["algo-1"], XGB_DIST_TIMEOUT="6")
        codes = cluster.wait(timeout=120)
    assert codes["algo-1"] != 0
    assert "host(s) algo-2 did not join within 6 s" in cluster["algo-1"].job.failure


def _long_job(tmp_path, count: int) -> Hosts:
    cluster = Hosts(tmp_path, count)
    rows = synthetic(600 * count, seed=5)
    for i, host in enumerate(cluster.hosts):
        write_csv(cluster.channel(host.name, "train") / "t.csv", rows[i * 600 : (i + 1) * 600])
    cluster.hyperparameters(num_round=1000000, **HYPER)
    return cluster


@pytest.mark.parametrize("victim", ["algo-3", "algo-1"])  # a worker; the coordinator + tracker
def test_killed_host_makes_the_others_fail_with_its_name(tmp_path, victim):
    cluster = _long_job(tmp_path, 3)
    with Network(3) as net:
        cluster.start(net, XGB_DIST_TIMEOUT="30")
        cluster.wait_for_log("algo-1", r"\[20\]\ttrain-auc")
        os.killpg(cluster[victim].process.pid, signal.SIGKILL)
        codes = cluster.wait(timeout=180)
    survivors = [h.name for h in cluster.hosts if h.name != victim]
    # 1, the program's own failure: not a crash in XGBoost's clean-up at exit (-11).
    assert all(codes[name] == 1 for name in survivors), codes
    for name in survivors:
        reason = cluster[name].job.failure.splitlines()[0]
        assert "distributed training broke off" in reason and f"{victim} lost" in reason
    assert not cluster["algo-1"].model.exists()


def test_host_stuck_in_the_collective_fails_when_a_peer_is_lost(tmp_path):
    """XGBoost's collective can wait for good after a peer dies (its event loop may answer
    the failed operation before recording the error, then stop with the next operation
    still queued). The driver's body never returns, as such a host's collective call."""
    cluster = Hosts(tmp_path, 2)
    with Network(2) as net:
        cluster.start(net, program=[sys.executable, str(DRIVER), "stuck"], XGB_DIST_TIMEOUT="5")
        for host in cluster.hosts:
            cluster.wait_for_log(host.name, "inside the collective")
        os.killpg(cluster["algo-2"].process.pid, signal.SIGKILL)
        codes = cluster.wait(timeout=120)
    assert codes["algo-1"] == 1, cluster["algo-1"].log
    reason = cluster["algo-1"].job.failure.splitlines()[0]
    assert "distributed training broke off on algo-1" in reason and "algo-2 lost" in reason
    assert "no answer from XGBoost's collective" in reason


def test_peers_that_finished_are_not_lost(tmp_path):
    """The coordinator may write its outputs long after the others have finished and gone."""
    cluster = Hosts(tmp_path, 3)
    with Network(3) as net:
        cluster.start(net, program=[sys.executable, str(DRIVER), "linger"], XGB_DIST_TIMEOUT="5")
        codes = cluster.wait(timeout=120)
    assert codes == {"algo-1": 0, "algo-2": 0, "algo-3": 0}, cluster["algo-1"].log
    assert "the others are gone" in cluster["algo-1"].log
    assert "algo-1 finished" in cluster["algo-1"].log


def test_cut_off_host_is_detected_by_the_timeout(tmp_path):
    cluster = _long_job(tmp_path, 2)
    with Network(2) as net:
        cluster.start(net, XGB_DIST_TIMEOUT="8")
        cluster.wait_for_log("algo-1", r"\[20\]\ttrain-auc")
        net.cut("algo-2")
        codes = cluster.wait(timeout=180)
    assert codes["algo-1"] != 0 and codes["algo-2"] != 0
    reason = cluster["algo-1"].job.failure.splitlines()[0]
    assert "algo-2 lost" in reason and "timeout 8 s" in reason
    assert "algo-1 lost" in cluster["algo-2"].job.failure.splitlines()[0]


def _predictions(model_file, rows: np.ndarray) -> np.ndarray:
    booster = xgb.Booster(model_file=str(model_file))
    return booster.predict(xgb.DMatrix(rows[:, 1:], feature_names=booster.feature_names))


def _resumable_job(root, rounds: int) -> Hosts:
    cluster = Hosts(root, 2)
    rows = synthetic(2400, seed=9)
    for i, host in enumerate(cluster.hosts):
        write_csv(cluster.channel(host.name, "train") / "t.csv", rows[i::2])
        host.job.write_config("checkpointconfig", {"LocalPath": str(host.job.base / "checkpoints")})
    cluster.hyperparameters(num_round=rounds, checkpoint_frequency=10, **HYPER)
    return cluster


def test_sigterm_to_all_hosts_then_resume_matches_an_uninterrupted_run(tmp_path):
    rounds = 1200
    whole = _resumable_job(tmp_path / "whole", rounds)
    with Network(2) as net:
        whole.start(net)
        assert set(whole.wait().values()) == {0}, whole["algo-1"].log
    cut = _resumable_job(tmp_path / "cut", rounds)
    with Network(2) as net:
        cut.start(net)
        cut.wait_for_log("algo-1", r"\[40\]\ttrain-auc")
        for host in cut.hosts:
            host.process.send_signal(signal.SIGTERM)
        codes = cut.wait()
    assert codes == {"algo-1": EXIT_TERMINATED, "algo-2": EXIT_TERMINATED}, (
        cut["algo-1"].log + cut["algo-2"].log
    )
    one = cut["algo-1"]
    meta = ModelMetadata.load(one.job.model_dir / "metadata.json")
    assert meta.extra["stopped_by_sigterm"] and 40 <= meta.extra["num_boosted_rounds"] < rounds
    assert list((one.job.base / "checkpoints").iterdir())
    assert not (cut["algo-2"].job.base / "checkpoints").exists()
    assert not cut["algo-2"].wrote_model_dir()
    with Network(2) as net:  # the same job started again: it resumes on both hosts
        cut.start(net)
        assert set(cut.wait().values()) == {0}, cut["algo-1"].log + cut["algo-2"].log
    assert "Resuming from checkpoint" in one.log
    rows = synthetic(500, seed=10)
    resumed, uninterrupted = (
        _predictions(one.model, rows),
        _predictions(whole["algo-1"].model, rows),
    )
    np.testing.assert_array_equal(resumed, uninterrupted)
