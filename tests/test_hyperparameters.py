"""Hyperparameters: parsed safely, checked by the installed XGBoost, unknown names refused."""

from __future__ import annotations

import pytest
from xgb_container import hyperparameters
from xgb_container.errors import UserError


def parse(**values: str) -> hyperparameters.Hyperparameters:
    return hyperparameters.parse({"num_round": "5", **values})


def refused(**values: str) -> str:
    with pytest.raises(UserError) as caught:
        hyperparameters.parse(values)
    return str(caught.value)


def test_own_parameters_are_typed():
    hp = parse(
        early_stopping_rounds="7",
        csv_weights="1",
        checkpoint_frequency="3",
        label_column="creditability",
        positive_label="bad",
        decision_threshold="0.3",
        save_model_on_termination="false",
    )
    assert (hp.num_round, hp.early_stopping_rounds, hp.checkpoint_frequency) == (5, 7, 3)
    assert hp.csv_weights is True and hp.save_model_on_termination is False
    assert (hp.label_column, hp.positive_label, hp.decision_threshold) == (
        "creditability",
        "bad",
        0.3,
    )
    assert hp.params == {}


def test_num_round_is_required_and_a_near_miss_is_named():
    assert "num_round is required" in refused(eta="0.1")
    assert "did you mean num_round" in refused(num_rounds="5")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("num_round", "0", "at least 1"),
        ("num_round", "ten", "an integer"),
        ("csv_weights", "maybe", "true or false"),
        ("decision_threshold", "1.5", "between 0 and 1"),
        ("checkpoint_frequency", "-2", "at least 1"),
    ],
)
def test_own_values_are_checked(name, value, expected):
    raw = {"num_round": "5", name: value}
    message = refused(**raw)
    assert name in message and expected in message


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("max_dept", "max_depth"), ("etaa", "eta"), ("colsample_by_tree", "colsample_bytree")],
)
def test_unknown_name_names_the_closest_valid_one(typo, suggestion):
    message = refused(num_round="5", **{typo: "3"})
    assert f"unknown hyperparameter {typo!r}" in message
    assert f"did you mean {suggestion!r}" in message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("max_depth", "deep", "max_depth"),
        ("eta", "-1", "learning_rate"),
        ("subsample", "2", "subsample"),
        ("tree_method", "fastest", "valid values are"),
        ("multi_strategy", "both", "multi_output_tree"),
        ("grow_policy", "widthwise", "lossguide"),
    ],
)
def test_xgboost_refuses_bad_values_with_its_own_reason(name, value, expected):
    message = refused(num_round="5", **{name: value})
    assert message.startswith("hyperparameter refused by XGBoost")
    assert expected in message
    assert "\n" not in message and "Stack trace" not in message


def test_unknown_objective_suggests_a_real_one():
    message = refused(num_round="5", objective="binary:logistc")
    assert "did you mean 'binary:logistic'" in message


def test_xgboost_3_parameters_and_aliases_are_accepted():
    hp = parse(
        device="cuda",
        multi_strategy="multi_output_tree",
        tree_method="hist",
        eta="0.1",
        gamma="1",
        alpha="0.5",
        reg_lambda="2",
        max_cat_to_onehot="4",
        max_bin="64",
        seed="3",
        verbosity="1",
    )
    assert hp.params["device"] == "cuda"
    assert hp.params["multi_strategy"] == "multi_output_tree"
    assert hp.enable_categorical is True
    assert parse(enable_categorical="false").enable_categorical is False


def test_quantile_objective_takes_a_list_of_alphas():
    hp = parse(objective="reg:quantileerror", quantile_alpha="[0.1, 0.5, 0.9]")
    assert hp.params["quantile_alpha"] == "[0.1, 0.5, 0.9]"


def test_names_come_from_xgboost_itself():
    names = hyperparameters.xgboost_names()
    for name in ("device", "multi_strategy", "quantile_alpha", "max_cat_to_onehot", "eta"):
        assert name in names
    assert "reg:quantileerror" in hyperparameters.objectives()
    assert "nonexistent_param" not in names
    # A name XGBoost knows but does not use in this setting is warned about, not refused.
    assert parse(objective="binary:logistic", quantile_alpha="0.5").params["quantile_alpha"]


def test_constraints_are_parsed_without_eval():
    hp = parse(
        monotone_constraints="(1,0,-1)",
        interaction_constraints='[["age", "duration"], ["purpose"]]',
    )
    assert hp.params["monotone_constraints"] == (1, 0, -1)
    assert hp.params["interaction_constraints"] == [["age", "duration"], ["purpose"]]
    assert (
        parse(interaction_constraints="[[0, 1], [2]]").params["interaction_constraints"]
        == "[[0, 1], [2]]"
    )
    assert parse(monotone_constraints='{"age": 1}').params["monotone_constraints"] == {"age": 1}
    message = refused(num_round="5", interaction_constraints="__import__('os').system('true')")
    assert "not a valid literal" in message


def test_eval_metric_lists():
    assert parse(eval_metric="auc,logloss").params["eval_metric"] == ["auc", "logloss"]
    assert parse(eval_metric='["auc", "aucpr"]').params["eval_metric"] == ["auc", "aucpr"]
    assert parse(eval_metric="auc").params["eval_metric"] == "auc"


def test_sagemaker_and_tuning_keys_are_ignored():
    hp = parse(
        sagemaker_region='"eu-west-1"',
        sagemaker_container_log_level="20",
        _tuning_objective_metric="validation:auc",
    )
    assert hp.params == {}


def test_scale_pos_weight_auto_passes_the_check():
    assert parse(scale_pos_weight="auto").params["scale_pos_weight"] == "auto"
