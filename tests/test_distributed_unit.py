"""Parts of distributed training that need no second host: sharding, schemas, settings."""

from __future__ import annotations

import numpy as np
import pytest
from xgb_container.distributed import Cluster
from xgb_container.formats import Dataset, Schema
from xgb_container.paths import Layout
from xgb_container.rollcall import Plan
from xgb_container.sharding import merge_schemas, slice_rows


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
