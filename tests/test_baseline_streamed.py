"""The monitoring baseline's profile built by training's own streaming passes is the profile
that reading the train channel again gives (``baseline.profile_channel``): same counts, same
edges, the same moments up to float rounding. Real trainings: a numeric header table, a
table with categories, LibSVM (absent entries), several chunks (``XGB_CHUNK_VALUES``)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import TAIWAN, TEST_DIR, Job
from xgb_container import baseline, formats, hyperparameters
from xgb_container.metadata import ModelMetadata
from xgb_container.paths import Layout


def profile_read_again(job: Job) -> list[dict]:
    """The train channel's feature statistics as the path that reads it again makes them."""
    layout = Layout(job.base)
    hp = hyperparameters.parse(layout.hyperparameters())
    meta_file = job.model_dir / "metadata.json"
    schema = formats.Schema.from_metadata(ModelMetadata.parse(meta_file.read_bytes(), meta_file))
    content_type = layout.input_data_config()["train"]["ContentType"]

    def chunks():
        return formats.iter_chunks(
            layout.channel_dir("train"),
            content_type,
            label_column=hp.label_column,
            positive_label=hp.positive_label,
            csv_weights=hp.csv_weights,
            schema=schema,
            chunk_rows=baseline.CHUNK_ROWS,
        )

    return baseline.profile_channel(chunks, schema).statistics()


def same(streamed, read_again, where: str = "") -> None:
    """Equal, floats up to rounding (sums of other chunkings)."""
    if isinstance(read_again, dict):
        assert streamed.keys() == read_again.keys(), where
        for key in read_again:
            same(streamed[key], read_again[key], f"{where}.{key}")
    elif isinstance(read_again, list):
        assert len(streamed) == len(read_again), where
        for i, (a, b) in enumerate(zip(streamed, read_again, strict=True)):
            same(a, b, f"{where}[{i}]")
    elif isinstance(read_again, float):
        assert streamed == pytest.approx(read_again, rel=1e-9, abs=1e-9), where
    else:
        assert streamed == read_again, where


def trained_features(job: Job, **env: str) -> list[dict]:
    done = job.train(**env)
    assert done.returncode == 0, done.stderr + job.failure
    assert "profiled as the matrices streamed" in done.stdout, done.stdout[-2000:]
    stats = json.loads((job.model_dir / "baseline" / "statistics.json").read_text())
    return stats["features"]


def test_a_numeric_table_in_several_chunks(tmp_path):
    job = Job(tmp_path / "ml")
    table = pd.read_csv(TAIWAN).drop(columns=["ID"]).iloc[:6000]
    table.iloc[::7, 3] = np.nan  # missing values too
    table.to_csv(job.channel("train", "text/csv; header=present") / "t.csv", index=False)
    job.hyperparameters(
        objective="binary:logistic", num_round=5, label_column="default payment next month"
    )
    features = trained_features(job, XGB_CHUNK_VALUES="20000")  # 6000 rows in 7 chunks
    assert features[0]["numerical_statistics"]["common"]["num_present"] == 6000
    same(features, profile_read_again(job))


def test_a_table_with_categories(tmp_path):
    base = tmp_path / "ml"
    shutil.copytree(TEST_DIR, base)
    job = Job(base)
    features = trained_features(job)
    assert any("string_statistics" in f for f in features)
    same(features, profile_read_again(job))


def test_libsvm_with_absent_entries(tmp_path):
    job = Job(tmp_path / "ml")
    rng = np.random.default_rng(3)
    lines = []
    for i in range(3000):
        x0, x2 = rng.normal(), rng.normal()
        middle = "" if i % 3 else f" 1:{rng.integers(1, 5)}"
        lines.append(f"{int(x0 + x2 > 0)} 0:{x0:.4f}{middle} 2:{x2:.4f}")
    (job.channel("train", "text/libsvm") / "p.libsvm").write_text("\n".join(lines) + "\n")
    job.hyperparameters(objective="binary:logistic", num_round=5)
    features = trained_features(job, XGB_CHUNK_VALUES="3000")
    assert features[1]["numerical_statistics"]["common"]["num_missing"] == 2000
    same(features, profile_read_again(job))


@pytest.mark.parametrize(
    ("setting", "path"),
    [({"tree_method": "exact"}, "whole"), ({"external_memory": "true"}, "external")],
)
def test_the_whole_and_external_paths_read_the_channel_again(tmp_path, setting, path):
    """No streaming passes on the whole path; on the external path memory is short, so the
    profile waits until the matrices are gone. Both give the same profile."""
    job = Job(tmp_path / "ml")
    table = pd.read_csv(TAIWAN).drop(columns=["ID"]).iloc[:2000]
    table.to_csv(job.channel("train", "text/csv; header=present") / "t.csv", index=False)
    job.hyperparameters(
        objective="binary:logistic",
        num_round=3,
        label_column="default payment next month",
        **setting,
    )
    done = job.train()
    assert done.returncode == 0, done.stderr + job.failure
    assert f"Training matrices: {path}" in done.stdout
    assert "Monitoring baseline:" in done.stdout
    assert "profiled as the matrices streamed" not in done.stdout
    stats = json.loads((job.model_dir / "baseline" / "statistics.json").read_text())
    same(stats["features"], profile_read_again(job))
