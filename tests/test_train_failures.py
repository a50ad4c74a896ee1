"""Each kind of bad input ends the train program with a one-line reason and a non-zero exit."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from conftest import GERMAN


def plain_rows(n: int = 40, features: int = 3, labels=(0, 1)) -> str:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, features)).round(3)
    y = np.resize(np.array(labels), n)
    return "\n".join(",".join(f"{v:g}" for v in row) for row in np.column_stack([y, X])) + "\n"


def empty_train(job):
    job.channel("train")
    job.hyperparameters(num_round=5)


def unparsable_row(job):
    folder = job.channel("train")
    (folder / "part-1.csv").write_text(plain_rows())
    (folder / "part-2.csv").write_text("1,0.5,0.25,1\n0,0.1,oops,2\n")
    job.hyperparameters(num_round=5)


def ragged_row(job):
    (job.channel("train") / "t.csv").write_text("1,0.5,0.25\n0,0.1,0.2\n1,0.3,0.4,0.9\n")
    job.hyperparameters(num_round=5)


def non_binary_label(job):
    (job.channel("train") / "t.csv").write_text(plain_rows(labels=(0, 1, 2)))
    job.hyperparameters(num_round=5, objective="binary:logistic")


def mismatched_features(job):
    (job.channel("train") / "t.csv").write_text(plain_rows(features=3))
    (job.channel("validation") / "v.csv").write_text(plain_rows(features=4))
    job.hyperparameters(num_round=5)


def unknown_hyperparameter(job):
    (job.channel("train") / "t.csv").write_text(plain_rows())
    job.hyperparameters(num_round=5, max_dept=3)


def invalid_hyperparameter(job):
    (job.channel("train") / "t.csv").write_text(plain_rows())
    job.hyperparameters(num_round=5, subsample=1.5)


def broken_gzip(job):
    packed = gzip.compress(plain_rows(400).encode())
    (job.channel("train") / "t.csv.gz").write_bytes(packed[:-40])
    job.hyperparameters(num_round=5)


def header_without_label_column(job):
    (job.channel("train", "text/csv; header=present") / "g.csv").write_bytes(GERMAN.read_bytes())
    job.hyperparameters(num_round=5)


def missing_label(job):
    folder = job.channel("train", "text/csv; header=present")
    (folder / "g.csv").write_text("creditability,amount\nbad,100\n,250\ngood,80\n")
    job.hyperparameters(num_round=5, label_column="creditability", positive_label="bad")


def bad_config_json(job):
    (job.channel("train") / "t.csv").write_text(plain_rows())
    (job.base / "input" / "config" / "hyperparameters.json").write_text('{"num_round": ')


def f1_best_without_validation(job):
    (job.channel("train") / "t.csv").write_text(plain_rows())
    job.hyperparameters(num_round=5, objective="binary:logistic", decision_threshold="f1_best")


def bad_constraint_names(job):
    (job.channel("train") / "t.csv").write_text(plain_rows())
    job.hyperparameters(num_round=5, interaction_constraints='[["f0", "nope"]]')


CASES = {
    empty_train: "the train channel",
    unparsable_row: "part-2.csv: line 2, column 3: 'oops' is not a number",
    ragged_row: "t.csv: line 3 has 4 values but most lines have 3",
    non_binary_label: "objective binary:logistic needs labels 0 or 1, found 2",
    mismatched_features: "channel validation has 4 features but the train channel has 3",
    unknown_hyperparameter: "unknown hyperparameter 'max_dept'; did you mean 'max_depth'?",
    invalid_hyperparameter: "hyperparameter subsample='1.5' refused by XGBoost: value 1.5 for Parameter subsample",
    broken_gzip: "t.csv.gz: broken gzip file",
    header_without_label_column: "needs the hyperparameter label_column",
    missing_label: "row 2 has no label",
    bad_config_json: "hyperparameters.json is not valid JSON",
    f1_best_without_validation: "decision_threshold=f1_best needs",
    bad_constraint_names: "XGBoost refused the job: Constrained features",
}


@pytest.mark.parametrize("setup", list(CASES), ids=[f.__name__ for f in CASES])
def test_bad_input_fails_with_a_one_line_reason(job, setup):
    setup(job)
    done = job.train()
    assert done.returncode == 1, done.stdout + done.stderr
    first = job.failure.splitlines()[0]
    assert CASES[setup] in first
    assert "Traceback" not in job.failure
    assert f"Training failed: {first}" in done.stderr
    assert not (job.model_dir / "xgboost-model").exists()
