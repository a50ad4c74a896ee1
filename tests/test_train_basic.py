"""The train program end to end on the bundled German Credit job."""

from __future__ import annotations

import json

import numpy as np
import xgboost as xgb
from xgb_container.metadata import ModelMetadata


def test_german_credit_trains_a_useful_model(german_job):
    done = german_job.train()
    assert done.returncode == 0, done.stderr
    assert "validation-auc" in done.stdout
    booster = xgb.Booster(
        model_file=bytearray((german_job.model_dir / "xgboost-model").read_bytes())
    )
    meta = ModelMetadata.load(german_job.model_dir / "metadata.json")
    assert meta.classes == ["good", "bad"]
    assert meta.input_format == "csv-header"
    assert "purpose" in meta.categories
    assert booster.num_features() == meta.num_features == 20
    assert not [p for p in german_job.model_dir.iterdir() if p.name.startswith(".")]


def test_missing_train_channel_fails_with_reason(job):
    job.hyperparameters(num_round=5)
    done = job.train()
    assert done.returncode != 0
    assert job.failure.splitlines()[0].startswith("the train channel")
    assert "missing" in job.failure


def test_missing_num_round_is_named(job):
    folder = job.channel("train")
    (folder / "a.csv").write_text("1,2,3\n0,1,1\n")
    job.write_config("hyperparameters", {"num_rounds": "5"})
    done = job.train()
    assert done.returncode == 1
    assert "num_round" in job.failure.splitlines()[0]


def test_plain_csv_label_first(job):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    folder = job.channel("train")
    np.savetxt(folder / "part.csv", np.column_stack([y, X]), delimiter=",", fmt="%.6g")
    job.hyperparameters(num_round=5, objective="binary:logistic")
    done = job.train()
    assert done.returncode == 0, done.stderr
    meta = json.loads((job.model_dir / "metadata.json").read_text())
    assert meta["feature_names"] == ["f0", "f1", "f2"]
