"""What a finished job leaves behind: model, metadata, evaluation, pictures, metric lines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import resources

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from conftest import GERMAN, program_env
from PIL import Image
from xgb_container.cpus import available_cpus, cgroup_quota


@pytest.fixture(scope="module")
def german_run(tmp_path_factory):
    """The bundled German Credit job, run once for this module."""
    import shutil

    from conftest import TEST_DIR, Job

    base = tmp_path_factory.mktemp("outputs") / "ml"
    shutil.copytree(TEST_DIR, base)
    job = Job(base)
    done = job.train()
    assert done.returncode == 0, done.stderr
    return job, done


def load_booster(job) -> xgb.Booster:
    return xgb.Booster(model_file=bytearray((job.model_dir / "xgboost-model").read_bytes()))


def test_evaluation_reports_for_validation_and_test(german_run):
    job, _ = german_run
    for channel in ("validation", "test"):
        report = job.evaluation(channel)
        assert report["rows"] == 150 and report["positives"] == 45
        assert 0.75 <= report["roc_auc"] <= 1 and 0 < report["pr_auc"] <= 1
        at_half, at_best = report["at_threshold_0.5"], report["at_f1_best_threshold"]
        assert at_half["threshold"] == 0.5
        assert sum(at_half["confusion_matrix"].values()) == 150
        assert at_best["f1"] >= at_half["f1"]
        for block in (at_half, at_best):
            cm = block["confusion_matrix"]
            assert block["accuracy"] == pytest.approx((cm["tp"] + cm["tn"]) / 150)
            assert block["recall"] == pytest.approx(cm["tp"] / (cm["tp"] + cm["fn"]))
        gain = report["feature_importance_gain"]
        assert "status_of_existing_checking_account" in gain
        assert list(gain.values()) == sorted(gain.values(), reverse=True)


def test_pictures_are_real_pngs(german_run):
    job, _ = german_run
    for name in ("roc-curve", "confusion-matrix"):
        for channel in ("validation", "test"):
            with Image.open(job.base / "output" / "data" / f"{name}-{channel}.png") as image:
                assert image.format == "PNG"
                assert image.width >= 400 and image.height >= 400
                # Not a blank canvas: a plotted picture has many distinct colours.
                assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or []) > 20


def test_model_is_cut_to_the_best_iteration(german_run):
    job, done = german_run
    meta = json.loads((job.model_dir / "metadata.json").read_text())
    best = meta["best_iteration"]
    assert best is not None and meta["threshold"] == 0.5
    assert load_booster(job).num_boosted_rounds() == best + 1
    assert meta["extra"]["num_boosted_rounds"] == best + 31  # early_stopping_rounds=30
    assert f"[{best + 30}]\t" in done.stdout and f"[{best + 31}]\t" not in done.stdout


def test_metric_definitions_read_the_training_output(german_run):
    _, done = german_run
    definitions = json.loads(
        resources.files("xgb_container").joinpath("metric_definitions.json").read_text()
    )
    assert len(definitions) <= 40
    assert all(len(d["Regex"]) <= 500 for d in definitions)
    cloudwatch = [line.replace("\t", "#011") for line in done.stdout.splitlines()]
    found: dict[str, list[float]] = {}
    for definition in definitions:
        pattern = re.compile(definition["Regex"])
        for line in cloudwatch:
            match = pattern.match(line)
            if match:
                found.setdefault(definition["Name"], []).append(float(match.group(1)))
    rounds = len([line for line in done.stdout.splitlines() if re.match(r"\[\d+\]\t", line)])
    assert set(found) == {"train:auc", "validation:auc"}
    assert len(found["validation:auc"]) == len(found["train:auc"]) == rounds
    last = [line for line in done.stdout.splitlines() if line.startswith("[")][-1]
    assert found["validation:auc"][-1] == float(last.split("validation-auc:")[1])


def test_several_metrics_on_one_line_are_each_read(job):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] > 0).astype(int)
    for channel in ("train", "validation"):
        np.savetxt(job.channel(channel) / "d.csv", np.column_stack([y, X]), delimiter=",")
    job.hyperparameters(num_round=3, objective="binary:logistic", eval_metric="auc,logloss,error")
    done = job.train()
    assert done.returncode == 0, done.stderr
    definitions = json.loads(
        resources.files("xgb_container").joinpath("metric_definitions.json").read_text()
    )
    lines = [line.replace("\t", "#011") for line in done.stdout.splitlines()]
    names = {d["Name"] for d in definitions for line in lines if re.match(d["Regex"], line)}
    assert {"validation:auc", "validation:logloss", "validation:error"} <= names
    for d in definitions:
        for line in lines:
            match = re.match(d["Regex"], line)
            if match:
                float(match.group(1))  # the value alone, never the next metric glued on


def test_f1_best_threshold_and_auto_class_weight(german_job):
    params = json.loads((german_job.base / "input" / "config" / "hyperparameters.json").read_text())
    params.update(decision_threshold="f1_best", scale_pos_weight="auto")
    german_job.write_config("hyperparameters", params)
    done = german_job.train()
    assert done.returncode == 0, done.stderr
    meta = json.loads((german_job.model_dir / "metadata.json").read_text())
    train = pd.read_csv(german_job.base / "input" / "data" / "train" / "german_credit_train.csv")
    bad = int((train["creditability"] == "bad").sum())
    assert meta["extra"]["params"]["scale_pos_weight"] == pytest.approx((len(train) - bad) / bad)
    report = german_job.evaluation("validation")
    assert meta["threshold"] == pytest.approx(report["at_f1_best_threshold"]["threshold"])
    assert report["at_decision_threshold"]["threshold"] == meta["threshold"]


def test_nthread_follows_the_cpu_affinity(job):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs a machine with at least 2 CPUs to narrow the affinity to 1")
    np.savetxt(job.channel("train") / "d.csv", np.eye(4)[:, :3], delimiter=",")
    job.hyperparameters(num_round=2)
    done = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-m", "xgb_container", "train"],
        env=program_env(job.base),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Training with nthread=1" in done.stdout
    job.hyperparameters(num_round=2, nthread=3)
    assert "Training with nthread=3" in job.train().stdout


def test_cgroup_quota_caps_the_cpu_count(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_quota(tmp_path) == 1.5
    assert available_cpus(tmp_path) == min(2, len(os.sched_getaffinity(0)))
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_quota(tmp_path) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_quota(v1) == 0.5 and available_cpus(v1) == 1


def test_parquet_channel_trains_with_categories(job):
    frame = pd.read_csv(GERMAN)
    frame.iloc[:800].to_parquet(job.channel("train", "application/x-parquet") / "t.parquet")
    frame.iloc[800:].to_parquet(job.channel("validation", "application/x-parquet") / "v.parquet")
    job.hyperparameters(
        num_round=20,
        objective="binary:logistic",
        eval_metric="auc",
        label_column="creditability",
        positive_label="bad",
        max_depth=3,
    )
    done = job.train()
    assert done.returncode == 0, done.stderr
    meta = json.loads((job.model_dir / "metadata.json").read_text())
    assert meta["input_format"] == "parquet" and "purpose" in meta["categories"]
    assert job.evaluation("validation")["roc_auc"] > 0.6


def test_libsvm_multiclass_job(job):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    lines = [
        f"{label} " + " ".join(f"{i}:{v:.4f}" for i, v in enumerate(row) if i != 2)
        for label, row in zip(y, X, strict=True)
    ]
    (job.channel("train", "text/libsvm") / "t.libsvm").write_text("\n".join(lines[:240]) + "\n")
    (job.channel("test", "text/libsvm") / "t.libsvm").write_text("\n".join(lines[240:]) + "\n")
    job.hyperparameters(num_round=10, objective="multi:softprob", num_class=3)
    done = job.train()
    assert done.returncode == 0, done.stderr
    report = job.evaluation("test")
    assert np.array(report["confusion_matrix"]).shape == (3, 3)
    assert np.array(report["confusion_matrix"]).sum() == 60 and report["accuracy"] > 0.6
    assert (job.base / "output" / "data" / "confusion-matrix-test.png").exists()
    meta = json.loads((job.model_dir / "metadata.json").read_text())
    assert meta["input_format"] == "libsvm" and meta["num_class"] == 3


def test_regression_with_quantiles(job):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3))
    y = X[:, 0] * 2 + rng.normal(size=400)
    for channel, part in (("train", slice(0, 300)), ("validation", slice(300, 400))):
        np.savetxt(job.channel(channel) / "d.csv", np.column_stack([y, X])[part], delimiter=",")
    job.hyperparameters(num_round=10, objective="reg:quantileerror", quantile_alpha="[0.1,0.9]")
    done = job.train()
    assert done.returncode == 0, done.stderr
    booster = load_booster(job)
    matrix = xgb.DMatrix(X[:5])
    assert booster.predict(matrix).shape == (5, 2)
    assert job.evaluation("validation")["rows"] == 100


def test_nthread_follows_omp_num_threads(job):
    """OpenMP's own variable caps the default thread count (the distributed tests rely on it
    to run one thread per host); an explicit nthread still wins, and a bad value is ignored."""
    np.savetxt(job.channel("train") / "d.csv", np.eye(4)[:, :3], delimiter=",")
    job.hyperparameters(num_round=2)
    assert "Training with nthread=1" in job.train(OMP_NUM_THREADS="1").stdout
    cpus = len(os.sched_getaffinity(0))
    assert f"Training with nthread={cpus}" in job.train(OMP_NUM_THREADS="many").stdout
    job.hyperparameters(num_round=2, nthread=3)
    assert "Training with nthread=3" in job.train(OMP_NUM_THREADS="1").stdout
