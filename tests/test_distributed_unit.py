"""Parts of distributed training that need no second host: sharding, schemas, settings,
the agreed stop."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from xgb_container.distributed import Cluster
from xgb_container.formats import Dataset, Schema
from xgb_container.paths import Layout
from xgb_container.rollcall import Plan, Settings
from xgb_container.session import Session
from xgb_container.sharding import merge_schemas, slice_rows
from xgb_container.termination import Termination


def dataset(rows: int) -> Dataset:
    X = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)
    return Dataset(X, np.arange(rows, dtype=np.float32), Schema("csv", ["a", "b"], ["q", "q"]))


@pytest.mark.parametrize("rows,count", [(10, 3), (7, 7), (2, 3), (1000, 4)])
def test_slices_are_disjoint_and_cover_every_row_once(rows, count):
    parts = [slice_rows(dataset(rows), i, count) for i in range(count)]
    taken = np.concatenate([p.y for p in parts if p is not None])
    assert taken.tolist() == list(range(rows))
    assert sum(p is None for p in parts) == max(0, count - rows)


def test_hosts_agree_on_the_union_of_categories():
    one = Schema("csv-header", ["purpose"], ["c"], {"purpose": ["car", "radio"]}, "y", ["a", "b"])
    two = Schema(
        "csv-header", ["purpose"], ["c"], {"purpose": ["business", "car"]}, "y", ["a", "b"]
    )
    merged = merge_schemas([one, two])
    assert merged.categories == {"purpose": ["business", "car", "radio"]}


def test_text_classes_are_recoded_into_the_union():
    one = Schema("csv-header", ["x"], ["q"], {}, "y", ["high", "low", "mid"])
    two = Schema("csv-header", ["x"], ["q"], {}, "y", ["low", "none", "mid"])
    merged = merge_schemas([one, two])
    assert merged.classes == ["high", "low", "mid", "none"]


def test_positive_label_codes_stay_when_negative_names_differ():
    one = Schema("csv-header", ["x"], ["q"], {}, "y", ["good", "bad"])
    two = Schema("csv-header", ["x"], ["q"], {}, "y", ["not bad", "bad"])
    merged = merge_schemas([one, two])
    assert merged.classes == ["not bad", "bad"]


def test_hosts_with_different_columns_are_refused():
    one = Schema("csv", ["f0", "f1"], ["q", "q"])
    two = Schema("csv", ["f0"], ["q"])
    with pytest.raises(Exception, match="different columns"):
        merge_schemas([one, two])


def test_one_host_is_its_own_coordinator(job):
    cluster = Cluster.from_layout(Layout(job.base))
    plan = cluster.join(None, [])
    assert plan.is_coordinator and not plan.distributed and plan.world == 1 and not plan.leaves


def test_plan_ranks_participants_in_order_and_names_who_leaves():
    plan = Plan(["algo-1", "algo-2", "algo-3"], "algo-3", ["algo-2", "algo-3"])
    assert (plan.rank, plan.world, plan.distributed) == (1, 2, True)
    assert not plan.is_coordinator and not plan.leaves
    gone = Plan(["algo-1", "algo-2"], "algo-1", ["algo-2"])
    assert gone.leaves and gone.rank == -1 and not gone.is_coordinator


def test_bad_port_setting_is_named(job):
    job.write_config("resourceconfig", {"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]})
    job.hyperparameters(num_round=2)
    done = job.train(XGB_DIST_PORT="http")
    assert done.returncode == 1
    assert job.failure.startswith("environment variable XGB_DIST_PORT='http' must be an integer")


def test_host_that_never_resolves_fails_with_its_name(job):
    job.write_config(
        "resourceconfig",
        {"current_host": "localhost", "hosts": ["localhost", "no-such-host.invalid"]},
    )
    np.savetxt(job.channel("train") / "a.csv", [[1, 2.0], [0, 1.0]], delimiter=",")
    job.hyperparameters(num_round=2)
    done = job.train(XGB_DIST_RESOLVE_TIMEOUT="1")
    assert done.returncode == 1
    assert job.failure.startswith("host no-such-host.invalid does not resolve after 1 s")


def test_current_host_outside_the_host_list_is_refused(job):
    job.write_config("resourceconfig", {"current_host": "algo-3", "hosts": ["algo-1", "algo-2"]})
    job.hyperparameters(num_round=2)
    done = job.train()
    assert done.returncode == 1
    assert "current_host 'algo-3' is not in" in job.failure


class SigtermInAllreduce(Session):
    """algo-1 of two participants; algo-2 never asks to stop. SIGTERM reaches algo-1 while
    the allreduce of round ``at`` runs (its handler runs as the call returns, as after
    XGBoost's C call)."""

    def __init__(self, at: int) -> None:
        super().__init__(Plan(["algo-1", "algo-2"], "algo-1", ["algo-1", "algo-2"]), Settings())
        self.at, self.round = at, -1

    def allreduce_sum(self, values: np.ndarray) -> np.ndarray:
        self.round += 1
        if self.round == self.at:
            os.kill(os.getpid(), signal.SIGTERM)
        return values + 0.0  # algo-2's flag is 0


@pytest.fixture
def termination():
    previous = signal.getsignal(signal.SIGTERM)
    termination = Termination()
    termination.install()
    termination.defer = True  # as during training
    yield termination
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_during_a_rounds_allreduce_stops_every_host_in_the_next_round(termination):
    stop = SigtermInAllreduce(at=0).agreed_stop(termination)
    assert stop.after_iteration(None, 0, {}) is False  # algo-2 sent 0: it goes on, so must algo-1
    assert termination.requested
    assert stop.after_iteration(None, 1, {}) is True  # algo-1 now sends 1: both stop
    model = object()
    assert stop.after_training(model) is model and termination.requested


def test_sigterm_after_the_last_rounds_flag_lets_every_host_finish(termination):
    stop = SigtermInAllreduce(at=1).agreed_stop(termination)
    assert stop.after_iteration(None, 0, {}) is False
    assert stop.after_iteration(None, 1, {}) is False  # the last round: algo-2 finishes
    stop.after_training(object())
    assert not termination.requested  # so algo-1 finishes too (scores, writes the model)
    os.kill(os.getpid(), signal.SIGTERM)
    assert not termination.requested
