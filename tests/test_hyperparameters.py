"""Hyperparameters: parsed safely, checked by the installed XGBoost, unknown names refused."""

from __future__ import annotations

import json
import re

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


def test_defaults():
    hp = parse()
    assert (hp.early_stopping_rounds, hp.csv_weights, hp.checkpoint_frequency) == (None, False, 10)
    assert (hp.label_column, hp.positive_label, hp.decision_threshold) == (None, None, 0.5)
    assert hp.enable_categorical is True and hp.save_model_on_termination is True


def test_the_lowest_allowed_values_are_allowed():
    hp = parse(num_round="1", early_stopping_rounds="1", checkpoint_frequency="1")
    assert (hp.num_round, hp.early_stopping_rounds, hp.checkpoint_frequency) == (1, 1, 1)
    assert "at least 1" in refused(num_round="5", early_stopping_rounds="0")


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
        ("decision_threshold", "g1_best", "a number between 0 and 1, or f1_best"),
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
    assert message.startswith(f"hyperparameter {name}={value!r}")
    assert "refused by XGBoost: " in message
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


def test_names_come_from_xgboost_itself(capsys):
    names = hyperparameters.xgboost_names()
    for name in ("device", "multi_strategy", "quantile_alpha", "max_cat_to_onehot", "eta"):
        assert name in names
    assert "reg:quantileerror" in hyperparameters.objectives()
    assert "nonexistent_param" not in names
    # Names of the updaters (a list in the config, seen once a booster has trained).
    assert {"max_cached_hist_node", "default_direction", "opt_dense_col"} <= names
    # Only the *_param sections hold parameters: other keys of the config are no names.
    assert not {"name", "version", "gradient_booster", "learner"} & names
    assert "unknown hyperparameter 'name'" in refused(num_round="5", name="gbtree")
    # A name XGBoost knows but does not use in this setting is warned about, not refused.
    assert parse(objective="binary:logistic", quantile_alpha="0.5").params["quantile_alpha"]
    assert "Warning: hyperparameter quantile_alpha is not used" in capsys.readouterr().out


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
    for shapeless in ("5", "[1, 2]", '{"a": 1}'):
        message = refused(num_round="5", interaction_constraints=shapeless)
        assert "must be a list of feature groups" in message


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
    raw = {"sagemaker_region": "x", "_tuning": "y", "num_round": "5", "max_depth": "3"}
    assert hyperparameters.parse(raw).params == {"max_depth": "3"}  # and the rest is read


def test_scale_pos_weight_auto_passes_the_check():
    assert parse(scale_pos_weight="auto").params["scale_pos_weight"] == "auto"


def xgboost_aliases() -> dict[str, str]:
    """Every alias of the installed XGBoost and its canonical name, as XGBoost reports them."""
    found = {}
    for name in sorted(hyperparameters.xgboost_names()):
        try:
            hyperparameters.configure({name: "abc"})
        except Exception as exc:  # noqa: BLE001 - XGBoost's error names the canonical name
            canonical = re.search(r"Parameter format for (\w+)", str(exc))
            if canonical and canonical.group(1) != name:
                found[name] = canonical.group(1)
    return found


def test_a_refused_alias_is_named_as_written_with_xgboosts_name_beside():
    aliases = xgboost_aliases()
    assert {"eta": "learning_rate", "gamma": "min_split_loss", "lambda": "reg_lambda"}.items() <= (
        aliases.items()
    )
    for alias, canonical in aliases.items():
        message = refused(num_round="5", objective="binary:logistic", **{alias: "abc"})
        assert message.startswith(f"hyperparameter {alias}='abc' (XGBoost's {canonical}) refused")
    message = refused(num_round="5", eta="-1")
    assert message.startswith("hyperparameter eta='-1' (XGBoost's learning_rate) refused")
    # A canonical name is not repeated, and a choice that names no parameter gets its name.
    assert refused(num_round="5", max_depth="x").startswith("hyperparameter max_depth='x' refused")
    message = refused(num_round="5", eta="0.1", tree_method="fastest")
    assert message.startswith("hyperparameter tree_method='fastest' refused")


def test_the_culprit_is_found_among_many_and_in_context():
    message = refused(num_round="5", max_depth="3", subsample="0.5", alpha="-2", eta="0.1")
    assert message.startswith("hyperparameter alpha='-2' (XGBoost's reg_alpha) refused")
    message = refused(num_round="5", booster="dart", one_drop="maybe", eta="0.1")
    assert message.startswith("hyperparameter one_drop='maybe' refused")


# How the SageMaker SDKs write hyperparameters.json (the values of HyperParameters):
# SDK v2 framework estimators (Framework._json_encode_hyperparameters) json.dumps every value;
# SDK v3 ModelTrainer (safe_serialize) keeps a string as it is and json.dumps anything else.
def sdk_v2(values: dict) -> dict[str, str]:
    return {str(k): json.dumps(v) for k, v in values.items()}


def sdk_v3(values: dict) -> dict[str, str]:
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


USER_VALUES = {
    "num_round": 20,
    "objective": "binary:logistic",
    "eval_metric": ["auc", "logloss"],
    "eta": 0.1,
    "max_depth": 3,
    "csv_weights": False,
    "enable_categorical": True,
    "label_column": "creditability",
    "positive_label": "bad",
    "decision_threshold": "f1_best",
    "early_stopping_rounds": 5,
    "monotone_constraints": {"duration": 1},
    "interaction_constraints": [["age", "duration"], ["purpose"]],
    "scale_pos_weight": "auto",
}


@pytest.mark.parametrize("encode", [sdk_v2, sdk_v3, lambda v: v], ids=["sdk-v2", "sdk-v3", "json"])
def test_json_encoded_values_of_both_sdks_read_as_their_value(encode):
    hp = hyperparameters.parse(encode(USER_VALUES))
    assert (hp.num_round, hp.early_stopping_rounds, hp.csv_weights) == (20, 5, False)
    assert (hp.label_column, hp.positive_label) == ("creditability", "bad")
    assert (hp.decision_threshold, hp.enable_categorical) == ("f1_best", True)
    assert hp.params == {
        "objective": "binary:logistic",
        "eval_metric": ["auc", "logloss"],
        "eta": "0.1",
        "max_depth": "3",
        "monotone_constraints": {"duration": 1},
        "interaction_constraints": [["age", "duration"], ["purpose"]],
        "scale_pos_weight": "auto",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"binary:logistic"', "binary:logistic"),
        (json.dumps(json.dumps("bad")), "bad"),  # encoded twice
        ('"half', '"half'),  # not JSON: a plain string stays
        ('"a" or "b"', '"a" or "b"'),
        ("plain text", "plain text"),
        (" 0.1 ", "0.1"),
        ("true", "true"),
        (True, "true"),
        (7, "7"),
        (["auc"], '["auc"]'),
        ('""', ""),
    ],
)
def test_plain(raw, expected):
    assert hyperparameters.plain(raw) == expected


def test_an_encoded_empty_label_column_is_refused():
    assert "label_column" in refused(num_round="5", label_column='""')


def test_an_encoded_objective_is_checked_as_its_value():
    message = refused(num_round="5", objective='"binary:logistc"')
    assert "unknown objective 'binary:logistc'" in message


def test_a_job_with_sdk_v2_hyperparameters_trains_the_same_model(tmp_path, german_job):
    config = german_job.base / "input" / "config" / "hyperparameters.json"
    values = json.loads(config.read_text())
    plain_done = german_job.train()
    assert plain_done.returncode == 0, plain_done.stderr
    plain_model = (german_job.model_dir / "xgboost-model").read_bytes()
    typed = {k: json.loads(v) if re.fullmatch(r"[\d.]+", v) else v for k, v in values.items()}
    german_job.write_config("hyperparameters", sdk_v2(typed))
    assert json.loads(config.read_text())["objective"] == '"binary:logistic"'
    encoded_done = german_job.train()
    assert encoded_done.returncode == 0, encoded_done.stderr
    assert (german_job.model_dir / "xgboost-model").read_bytes() == plain_model
