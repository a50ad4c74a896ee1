"""Checkpoints hold the training state: resumed training grows exactly the same trees."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
import xgboost as xgb
from xgb_container import checkpoints, formats, hyperparameters
from xgb_container.callbacks import EarlyStop

PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "max_depth": 4,
    "eta": 0.3,
    "subsample": 0.7,
    "colsample_bynode": 0.7,
    "seed": 11,
    "nthread": 1,
}


@pytest.fixture(scope="module")
def matrices() -> tuple[xgb.DMatrix, xgb.DMatrix]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1200, 8)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(scale=1.5, size=1200) > 0).astype(float)
    return xgb.DMatrix(X[:900], label=y[:900]), xgb.DMatrix(X[900:], label=y[900:])


@pytest.fixture(scope="module")
def ident(matrices) -> checkpoints.Identity:
    return identity_of(matrices)


def identity_of(matrices, **changes) -> checkpoints.Identity:
    dtrain, dvalid = matrices
    hp = hyperparameters.Hyperparameters(num_round=30)
    for name, value in changes.items():
        setattr(hp, name, value)
    params = {**PARAMS, **changes.get("params", {})}
    return checkpoints.identity(params, hp, {"train": dtrain, "validation": dvalid})


def train(dtrain, dvalid, rounds, start=None, callbacks=(), early=None):
    cbs = list(callbacks) + ([EarlyStop(rounds=early, data_name="validation")] if early else [])
    return xgb.train(
        PARAMS,
        dtrain,
        num_boost_round=rounds,
        evals=[(dvalid, "validation")],
        callbacks=cbs,
        verbose_eval=False,
        xgb_model=start,
    )


def test_resumed_training_is_bit_identical_despite_subsampling(tmp_path, matrices, ident):
    dtrain, dvalid = matrices
    whole = train(dtrain, dvalid, 30)
    train(dtrain, dvalid, 12, callbacks=[checkpoints.Checkpointer(tmp_path, 4, ident)])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [checkpoints.path_for(tmp_path, ident, n).name for n in (4, 8, 12)]
    start = checkpoints.load_newest(tmp_path, ident)
    assert start.num_boosted_rounds() == 12
    resumed = train(dtrain, dvalid, 18, start=start)
    np.testing.assert_array_equal(resumed.predict(dvalid), whole.predict(dvalid))
    # Without the saved configuration (random state) the trees differ: the test can fail.
    bare = xgb.Booster(model_file=bytearray(start.save_raw("ubj")))
    other = train(dtrain, dvalid, 18, start=bare)
    assert not np.array_equal(other.predict(dvalid), whole.predict(dvalid))


def test_only_the_newest_few_are_kept(tmp_path, matrices, ident):
    dtrain, dvalid = matrices
    train(dtrain, dvalid, 10, callbacks=[checkpoints.Checkpointer(tmp_path, 2, ident)])
    kept = [checkpoints.PATTERN.match(p.name).group(2) for p in checkpoints.candidates(tmp_path)]
    assert [int(k) for k in kept] == [10, 8, 6]


def test_broken_checkpoints_are_skipped(tmp_path, matrices, ident, capsys):
    dtrain, dvalid = matrices
    train(dtrain, dvalid, 6, callbacks=[checkpoints.Checkpointer(tmp_path, 3, ident)])
    newest = checkpoints.path_for(tmp_path, ident, 9)
    newest.write_bytes(checkpoints.path_for(tmp_path, ident, 6).read_bytes()[:100])
    plain = checkpoints.path_for(tmp_path, ident, 12)
    plain.write_bytes(bytes(train(dtrain, dvalid, 12).save_raw("ubj")))  # no training state
    half = tmp_path / f".{checkpoints.path_for(tmp_path, ident, 15).name}.abc.tmp"
    half.write_bytes(b"half")
    booster = checkpoints.load_newest(tmp_path, ident)
    assert booster.num_boosted_rounds() == 6
    out = capsys.readouterr().out
    assert f"Skipping checkpoint {plain.name}: it has no training state" in out
    assert f"Skipping checkpoint {newest.name}: " in out
    # XGBoost's first line (its time stamp and source location), not a later one of its message
    assert re.match(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ", out.split(f"{newest.name}: ")[1])
    assert not list(tmp_path.glob(".*.tmp"))


def test_no_checkpoint_means_a_fresh_start(tmp_path, ident, capsys):
    assert checkpoints.load_newest(tmp_path, ident) is None
    assert checkpoints.load_newest(tmp_path / "absent", ident) is None
    assert capsys.readouterr().out == ""  # nothing to report in an empty folder


def test_early_stopping_resumes_with_its_progress(tmp_path, matrices, ident):
    dtrain, dvalid = matrices
    whole = train(dtrain, dvalid, 200, early=5)
    best = int(whole.attr("best_iteration"))
    assert whole.num_boosted_rounds() < 200  # early stopping did end the run
    # Resume from a checkpoint taken after the best round, with rounds without improvement.
    cut = best + 3
    train(dtrain, dvalid, cut, callbacks=[checkpoints.Checkpointer(tmp_path, cut, ident)], early=5)
    start = checkpoints.load_newest(tmp_path, ident)
    assert start.num_boosted_rounds() == cut
    resumed = train(dtrain, dvalid, 200 - cut, start=start, early=5)
    assert resumed.num_boosted_rounds() == whole.num_boosted_rounds()
    assert resumed.attr("best_iteration") == whole.attr("best_iteration")
    np.testing.assert_array_equal(resumed.predict(dvalid), whole.predict(dvalid))


@pytest.mark.parametrize(
    "change",
    [
        {"params": {"eta": 0.1}},
        {"params": {"objective": "binary:logitraw"}},
        {"num_round": 31},
        {"early_stopping_rounds": 4},
        {"label_column": "bad"},
        {"enable_categorical": False},
    ],
)
def test_identity_changes_with_what_shapes_the_trees(matrices, ident, change):
    other = identity_of(matrices, **change)
    assert other.tag != ident.tag
    assert ident.differences(json.loads(other.text))


@pytest.mark.parametrize(
    "change",
    [
        {"params": {"nthread": 7}},
        {"params": {"verbosity": 0}},
        {"checkpoint_frequency": 3},
        {"decision_threshold": 0.2},
        {"save_model_on_termination": False},
    ],
)
def test_identity_ignores_machine_and_report_settings(matrices, ident, change):
    assert identity_of(matrices, **change).tag == ident.tag


def test_identity_does_not_depend_on_the_order_of_settings(matrices, ident):
    dtrain, dvalid = matrices
    hp = hyperparameters.Hyperparameters(num_round=30)
    backwards = dict(reversed(list(PARAMS.items())))
    other = checkpoints.identity(backwards, hp, {"validation": dvalid, "train": dtrain})
    assert other.tag == ident.tag and other.text == ident.text


def test_identity_changes_with_the_data_and_schema(matrices, ident):
    dtrain, dvalid = matrices
    hp = hyperparameters.Hyperparameters(num_round=30)
    labels = dtrain.get_label().copy()
    labels[0] = 1 - labels[0]
    flipped = xgb.DMatrix(dtrain.get_data(), label=labels)
    other = checkpoints.identity(PARAMS, hp, {"train": flipped, "validation": dvalid})
    assert other.tag != ident.tag
    assert ident.differences(json.loads(other.text)) == ["data.train"]
    narrow = xgb.DMatrix(dtrain.get_data()[:, :7], label=dtrain.get_label())
    other = checkpoints.identity(PARAMS, hp, {"train": narrow, "validation": dvalid})
    assert ident.differences(json.loads(other.text)) == ["data.train"]
    no_validation = checkpoints.identity(PARAMS, hp, {"train": dtrain})
    assert ident.differences(json.loads(no_validation.text)) == ["data.validation"]
    # The test channel does not take part in training.
    assert (
        checkpoints.identity(
            PARAMS, hp, {"train": dtrain, "validation": dvalid, "test": narrow}
        ).tag
        == ident.tag
    )
    schema = formats.Schema("csv-header", ["a"], ["c"], {"a": ["x", "y"]}, "label")
    renamed = formats.Schema("csv-header", ["a"], ["c"], {"a": ["y", "x"]}, "label")
    first = checkpoints.identity(PARAMS, hp, {"train": dtrain}, schema)
    second = checkpoints.identity(PARAMS, hp, {"train": dtrain}, renamed)
    assert first.differences(json.loads(second.text)) == ["schema.categories"]


def test_another_trainings_checkpoints_are_ignored_and_kept(tmp_path, matrices, ident, capsys):
    dtrain, dvalid = matrices
    other = identity_of(matrices, params={"eta": 0.05})
    train(dtrain, dvalid, 12, callbacks=[checkpoints.Checkpointer(tmp_path, 4, other)])
    legacy = tmp_path / "xgboost-checkpoint.00000020.ubj"  # an older container's name
    legacy.write_bytes(checkpoints.path_for(tmp_path, other, 12).read_bytes())
    before = sorted(p.name for p in tmp_path.iterdir())
    assert checkpoints.load_newest(tmp_path, ident) is None
    out = capsys.readouterr().out
    assert "Ignoring checkpoints of another training" in out
    assert "xgboost-checkpoint.00000020.ubj and 3 more (differs in: params.eta)" in out
    assert "it starts from round 0" in out and "Resuming" not in out
    # This training writes its own files beside the others, and prunes only its own.
    train(dtrain, dvalid, 20, callbacks=[checkpoints.Checkpointer(tmp_path, 2, ident)])
    mine = [p.name for p in checkpoints.candidates(tmp_path, ident.tag)]
    assert mine == [checkpoints.path_for(tmp_path, ident, n).name for n in (20, 18, 16)]
    assert sorted(set(p.name for p in tmp_path.iterdir()) - set(mine)) == before
    assert checkpoints.load_newest(tmp_path, ident).num_boosted_rounds() == 20
    legacy.write_bytes(bytes(train(dtrain, dvalid, 2).save_raw("ubj")))
    checkpoints.load_newest(tmp_path, ident)
    assert "(no identity)" in capsys.readouterr().out
    legacy.write_bytes(legacy.read_bytes()[:50])  # a broken foreign file is reported too
    assert checkpoints.load_newest(tmp_path, ident).num_boosted_rounds() == 20
    assert "(no identity)" in capsys.readouterr().out


def test_a_file_named_like_ours_with_another_identity_is_skipped(tmp_path, matrices, ident, capsys):
    dtrain, dvalid = matrices
    other = identity_of(matrices, params={"eta": 0.05})
    train(dtrain, dvalid, 4, callbacks=[checkpoints.Checkpointer(tmp_path, 4, other)])
    disguised = checkpoints.path_for(tmp_path, ident, 4)
    checkpoints.path_for(tmp_path, other, 4).rename(disguised)
    assert checkpoints.load_newest(tmp_path, ident) is None
    assert f"Skipping checkpoint {disguised.name}: it belongs to another training" in (
        capsys.readouterr().out
    )


def test_a_fifo_named_like_a_checkpoint_is_skipped_not_read(tmp_path, matrices, ident, capsys):
    dtrain, dvalid = matrices
    train(dtrain, dvalid, 4, callbacks=[checkpoints.Checkpointer(tmp_path, 4, ident)])
    fifo = checkpoints.path_for(tmp_path, ident, 8)
    os.mkfifo(fifo)
    foreign = tmp_path / "xgboost-checkpoint.00000009.ubj"
    os.mkfifo(foreign)
    assert checkpoints.load_newest(tmp_path, ident).num_boosted_rounds() == 4
    out = capsys.readouterr().out
    assert f"Skipping checkpoint {fifo.name}: not a regular file" in out
    assert "(no identity)" in out


def test_a_broken_training_state_or_a_wrong_round_count_is_skipped(
    tmp_path, matrices, ident, capsys
):
    dtrain, dvalid = matrices
    booster = train(dtrain, dvalid, 4, callbacks=[checkpoints.Checkpointer(tmp_path, 2, ident)])
    booster.set_attr(
        **{checkpoints.CONFIG_ATTR: "{not json", checkpoints.IDENTITY_ATTR: ident.text}
    )
    broken = checkpoints.path_for(tmp_path, ident, 6)
    broken.write_bytes(bytes(booster.save_raw("ubj")))
    misnamed = checkpoints.path_for(tmp_path, ident, 5)
    misnamed.write_bytes(checkpoints.path_for(tmp_path, ident, 4).read_bytes())
    assert checkpoints.load_newest(tmp_path, ident).num_boosted_rounds() == 4
    out = capsys.readouterr().out
    reason = out.split(f"Skipping checkpoint {broken.name}: ")[1].splitlines()[0]
    assert re.match(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ", reason) and "Expecting" in reason
    assert f"Skipping checkpoint {misnamed.name}: it holds 4 rounds, not 00000005" in out


def test_ensure_writes_a_missing_checkpoint_once(tmp_path, matrices, ident):
    dtrain, dvalid = matrices
    booster = train(dtrain, dvalid, 3)
    checkpoints.ensure(tmp_path, booster, ident)
    path = checkpoints.path_for(tmp_path, ident, 3)
    first = path.stat()
    checkpoints.ensure(tmp_path, booster, ident)
    assert path.stat().st_ino == first.st_ino  # not written again
    assert checkpoints.load(path, ident).num_boosted_rounds() == 3
