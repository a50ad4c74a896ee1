"""Checkpoints hold the training state: resumed training grows exactly the same trees."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb
from xgb_container import checkpoints
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


def test_resumed_training_is_bit_identical_despite_subsampling(tmp_path, matrices):
    dtrain, dvalid = matrices
    whole = train(dtrain, dvalid, 30)
    train(dtrain, dvalid, 12, callbacks=[checkpoints.Checkpointer(tmp_path, 4)])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [checkpoints.path_for(tmp_path, n).name for n in (4, 8, 12)]
    start = checkpoints.load_newest(tmp_path)
    assert start.num_boosted_rounds() == 12
    resumed = train(dtrain, dvalid, 18, start=start)
    np.testing.assert_array_equal(resumed.predict(dvalid), whole.predict(dvalid))
    # Without the saved configuration (random state) the trees differ: the test can fail.
    bare = xgb.Booster(model_file=bytearray(start.save_raw("ubj")))
    other = train(dtrain, dvalid, 18, start=bare)
    assert not np.array_equal(other.predict(dvalid), whole.predict(dvalid))


def test_only_the_newest_few_are_kept(tmp_path, matrices):
    dtrain, dvalid = matrices
    train(dtrain, dvalid, 10, callbacks=[checkpoints.Checkpointer(tmp_path, 2)])
    kept = [checkpoints.PATTERN.match(p.name).group(1) for p in checkpoints.candidates(tmp_path)]
    assert [int(k) for k in kept] == [10, 8, 6]


def test_broken_checkpoints_are_skipped(tmp_path, matrices, capsys):
    dtrain, dvalid = matrices
    train(dtrain, dvalid, 6, callbacks=[checkpoints.Checkpointer(tmp_path, 3)])
    newest = checkpoints.path_for(tmp_path, 9)
    newest.write_bytes(checkpoints.path_for(tmp_path, 6).read_bytes()[:100])
    plain = checkpoints.path_for(tmp_path, 12)
    plain.write_bytes(bytes(train(dtrain, dvalid, 12).save_raw("ubj")))  # no training state
    (tmp_path / ".xgboost-checkpoint.00000015.ubj.abc.tmp").write_bytes(b"half")
    booster = checkpoints.load_newest(tmp_path)
    assert booster.num_boosted_rounds() == 6
    out = capsys.readouterr().out
    assert "Skipping checkpoint xgboost-checkpoint.00000012.ubj: it has no training state" in out
    assert "Skipping checkpoint xgboost-checkpoint.00000009.ubj" in out
    assert not list(tmp_path.glob(".*.tmp"))


def test_no_checkpoint_means_a_fresh_start(tmp_path):
    assert checkpoints.load_newest(tmp_path) is None
    assert checkpoints.load_newest(tmp_path / "absent") is None


def test_early_stopping_resumes_with_its_progress(tmp_path, matrices):
    dtrain, dvalid = matrices
    whole = train(dtrain, dvalid, 200, early=5)
    best = int(whole.attr("best_iteration"))
    assert whole.num_boosted_rounds() < 200  # early stopping did end the run
    # Resume from a checkpoint taken after the best round, with rounds without improvement.
    cut = best + 3
    train(dtrain, dvalid, cut, callbacks=[checkpoints.Checkpointer(tmp_path, cut)], early=5)
    start = checkpoints.load_newest(tmp_path)
    assert start.num_boosted_rounds() == cut
    resumed = train(dtrain, dvalid, 200 - cut, start=start, early=5)
    assert resumed.num_boosted_rounds() == whole.num_boosted_rounds()
    assert resumed.attr("best_iteration") == whole.attr("best_iteration")
    np.testing.assert_array_equal(resumed.predict(dvalid), whole.predict(dvalid))
