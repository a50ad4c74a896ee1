"""Training refuses constrained or protected names that are not columns (with a did-you-mean)
and says so when a multi-class objective is given a two-class loan label."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import TEST_DIR


def set_hyperparameters(job, **values):
    hp = json.loads((job.base / "input/config/hyperparameters.json").read_text())
    hp.update({k: str(v) for k, v in values.items()})
    job.write_config("hyperparameters", hp)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (
            {"monotone_constraints": '{"duration_in_mont": 1}'},
            "monotone_constraints names 'duration_in_mont', which is not a feature; "
            "did you mean 'duration_in_month'?",
        ),
        (
            {"protected_columns": "personal_status"},
            "protected column 'personal_status' is not a column of the train channel",
        ),
        (
            {"protected_columns": "age_in_years:40,25"},
            "hyperparameter protected_columns='age_in_years:40,25': must give increasing cut "
            "points for age_in_years",
        ),
        (
            {"exclude_columns": "gender"},
            "columns ['gender'] are not in the table",
        ),
        ({"exclude_columns": " , "}, "hyperparameter exclude_columns=',': must name at least"),
    ],
)
def test_bad_names_fail_with_a_reason(german_job, values, reason):
    set_hyperparameters(german_job, num_round=5, **values)
    done = german_job.train()
    assert done.returncode == 1, done.stdout
    assert reason in german_job.failure.splitlines()[0]
    assert not (german_job.model_dir / "xgboost-model").exists()


def test_multiclass_objective_on_a_two_class_label_is_named(german_job):
    set_hyperparameters(german_job, objective="multi:softmax", num_class=10, num_round=20)
    del_key(german_job, "eval_metric")
    done = german_job.train()
    assert done.returncode == 0, done.stderr + german_job.failure
    labels = pd.read_csv(TEST_DIR / "input/data/train/german_credit_train.csv")["creditability"]
    found = sorted(set(labels))  # positive_label=bad: the other class first, then bad
    found = [c for c in found if c != "bad"] + ["bad"]
    warning = next(
        line for line in done.stdout.splitlines() if line.startswith("Warning: objective")
    )
    assert f"num_class=10 trains 10 classes, but the label has {len(found)}: " in warning
    assert ", ".join(found) in warning and "binary:logistic" in warning
    for channel in ("validation", "test"):
        advice = german_job.evaluation(channel)["objective_advice"]
        assert advice["classes_found"] == found and advice["num_class"] == 10
        assert advice["message"] in warning
    html = (german_job.base / "output/data/report.html").read_text()
    assert "use objective=binary:logistic".lower() in html.lower()


def del_key(job, key):
    path = job.base / "input/config/hyperparameters.json"
    hp = json.loads(path.read_text())
    hp.pop(key, None)
    path.write_text(json.dumps(hp))
