"""Streaming training input: chunks into QuantileDMatrix, external memory, the whole-matrix
path for what needs it, and the memory figures that choose between them."""

from __future__ import annotations

import gzip
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from conftest import TAIWAN, Job, program_env
from sklearn.metrics import roc_auc_score
from xgb_container import formats, hyperparameters, matrices, memory
from xgb_container.chunks import Source
from xgb_container.errors import UserError
from xgb_container.matrices import Room

TAIWAN_HYPER = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "max_depth": 4,
    "eta": 0.1,
    "num_round": 80,
    "seed": 0,
    "nthread": 1,  # OpenMP threads on a crowded machine wait on each other
}
SMALL_CHUNKS = {"XGB_CHUNK_VALUES": str(23 * 1500)}  # 1,500 rows a chunk: 16 of them
PAGES = {"XGB_CHUNK_VALUES": str(23 * 6000)}  # external memory: 4 pages


@pytest.fixture(scope="module")
def taiwan() -> tuple[np.ndarray, np.ndarray]:
    """Label-first rows, shuffled once: 24,000 to train, 6,000 to validate."""
    table = pd.read_csv(TAIWAN).drop(columns=["ID"])
    label = table.pop("default payment next month")
    rows = np.column_stack([label.to_numpy(), table.to_numpy()]).astype(np.float64)
    rows = rows[np.random.default_rng(3).permutation(len(rows))]
    return rows[:24000], rows[24000:]


@pytest.fixture(scope="module")
def whole_matrix_auc(taiwan) -> float:
    """Today's way: one whole DMatrix per channel, hist, the same parameters."""
    train, validation = taiwan
    params = {k: v for k, v in TAIWAN_HYPER.items() if k != "num_round"}
    dtrain = xgb.DMatrix(train[:, 1:], label=train[:, 0])
    booster = xgb.train(params, dtrain, num_boost_round=TAIWAN_HYPER["num_round"])
    return roc_auc_score(validation[:, 0], booster.predict(xgb.DMatrix(validation[:, 1:])))


def taiwan_job(job: Job, taiwan, **hyper: object) -> Job:
    train, validation = taiwan
    for name, rows in (("train", train), ("validation", validation)):
        pd.DataFrame(rows).to_csv(job.channel(name) / f"{name}.csv", header=False, index=False)
    job.hyperparameters(**{**TAIWAN_HYPER, **hyper})
    return job


def test_hist_streams_chunks_with_the_quality_of_a_whole_matrix(job, taiwan, whole_matrix_auc):
    taiwan_job(job, taiwan)
    done = job.train(**SMALL_CHUNKS)
    assert done.returncode == 0, done.stderr
    assert "Training matrices: quantile (tree_method=hist streams" in done.stdout
    auc = job.evaluation("validation")["roc_auc"]
    print(f"streamed AUC {auc:.5f}, whole matrix {whole_matrix_auc:.5f}")
    assert abs(auc - whole_matrix_auc) <= 0.002
    assert job.evaluation("validation")["rows"] == 6000
    assert not any((job.base / "scratch").iterdir())  # spill files are gone


def test_external_memory_trains_from_a_cache_that_is_removed(job, taiwan, whole_matrix_auc):
    taiwan_job(job, taiwan, external_memory="true")
    done = job.train(**PAGES)
    assert done.returncode == 0, done.stderr
    assert "Training matrices: external (external_memory=true)" in done.stdout
    auc = job.evaluation("validation")["roc_auc"]
    assert abs(auc - whole_matrix_auc) <= 0.002
    assert not any((job.base / "scratch").iterdir())


def test_exact_keeps_the_whole_matrix_and_says_so(job, taiwan, whole_matrix_auc):
    train, validation = taiwan
    taiwan_job(job, (train[:4000], validation), tree_method="exact", num_round=20)
    done = job.train()
    assert done.returncode == 0, done.stderr
    assert "Training matrices: whole (tree_method=exact needs the whole matrix)" in done.stdout
    assert job.evaluation("validation")["roc_auc"] > 0.7


def test_external_memory_with_exact_is_refused(job, taiwan):
    train, validation = taiwan
    taiwan_job(job, (train[:200], validation[:50]), tree_method="exact", external_memory="true")
    done = job.train()
    assert done.returncode == 1
    assert job.failure.startswith("external_memory=true needs tree_method=hist")


def test_weights_and_labels_stream_as_plain_arrays(job):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 3))
    y = (X[:, 0] + rng.normal(size=3000) > 0).astype(float)
    w = rng.uniform(0.1, 3, size=3000)
    pd.DataFrame(np.column_stack([y, w, X])).to_csv(
        job.channel("train") / "t.csv", header=False, index=False
    )
    job.hyperparameters(num_round=15, objective="binary:logistic", csv_weights="true", seed=0)
    done = job.train(XGB_CHUNK_VALUES="1000")  # 333 rows a chunk
    assert done.returncode == 0, done.stderr
    booster = xgb.Booster(model_file=str(job.model_dir / "xgboost-model"))
    weighted = xgb.train(
        {"objective": "binary:logistic", "seed": 0},
        xgb.DMatrix(X.astype(np.float32), label=y, weight=w.astype(np.float32)),
        15,
    )
    unweighted = xgb.train(
        {"objective": "binary:logistic", "seed": 0},
        xgb.DMatrix(X.astype(np.float32), label=y),
        15,
    )
    probe = xgb.DMatrix(X[:500].astype(np.float32))
    ours = booster.predict(probe)
    assert (
        np.abs(ours - weighted.predict(probe)).max()
        < np.abs(ours - unweighted.predict(probe)).max()
    )
    np.testing.assert_allclose(ours, weighted.predict(probe), atol=0.02)


def test_bad_chunk_value_fails_with_its_line(job):
    rows = "\n".join(f"{i % 2},{i}.5,1" for i in range(5000)) + "\n1,abc,2\n"
    (job.channel("train") / "t.csv").write_text(rows)
    job.hyperparameters(num_round=3)
    done = job.train(XGB_CHUNK_VALUES="1000")
    assert done.returncode == 1
    assert "'abc' is not a number" in job.failure and "t.csv" in job.failure


def test_bad_chunk_setting_is_named(job):
    np.savetxt(job.channel("train") / "a.csv", [[1, 2.0], [0, 1.0]], delimiter=",")
    job.hyperparameters(num_round=2)
    done = job.train(XGB_CHUNK_VALUES="ten")
    assert done.returncode == 1
    assert job.failure.startswith("environment variable XGB_CHUNK_VALUES='ten' must be")


def _plain_channel(tmp_path, megabytes: int) -> Source:
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "big.csv").write_bytes(b"1,2.5,3.25\n" * (megabytes * 100_000))
    return Source("train", folder, "text/csv")


def test_auto_goes_external_when_the_data_does_not_fit(tmp_path):
    hp = hyperparameters.parse({"num_round": "1"})
    sources = [_plain_channel(tmp_path, 10)]  # about 11 MB of text
    roomy = matrices.choose(hp, sources, tmp_path, Room(memory=1 << 30, disk=1 << 40))
    assert roomy.path == "quantile" and roomy.spill
    tight = matrices.choose(hp, sources, tmp_path, Room(memory=2 << 20, disk=1 << 40))
    assert tight.path == "external" and tight.reason.startswith("auto: about 2 MB of data")
    no_spill = matrices.choose(hp, sources, tmp_path, Room(memory=1 << 30, disk=10 << 20))
    assert no_spill.path == "quantile" and not no_spill.spill
    forced = hyperparameters.parse({"num_round": "1", "external_memory": "false"})
    kept = matrices.choose(forced, sources, tmp_path, Room(memory=2 << 20, disk=1 << 40))
    assert kept.path == "quantile"


def test_data_that_fits_nowhere_fails_naming_the_file(tmp_path):
    hp = hyperparameters.parse({"num_round": "1"})
    sources = [_plain_channel(tmp_path, 10)]
    with pytest.raises(UserError, match=r"big\.csv: the channels need about 2 MB, more than"):
        matrices.choose(hp, sources, tmp_path, Room(memory=1 << 20, disk=1 << 20))


def test_external_memory_hyperparameter_values():
    assert hyperparameters.parse({"num_round": "1"}).external_memory == "auto"
    assert hyperparameters.parse({"num_round": "1", "external_memory": "1"}).external_memory == (
        "true"
    )
    with pytest.raises(UserError, match="external_memory='maybe': must be true or false"):
        hyperparameters.parse({"num_round": "1", "external_memory": "maybe"})


def test_cgroup_limits_v2_and_v1(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.max").write_text("209715200\n")
    assert memory.cgroup_limit(v2) == 209715200
    (v2 / "memory.max").write_text("max\n")
    assert memory.cgroup_limit(v2) is None
    v1 = tmp_path / "v1" / "memory"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text("104857600\n")
    assert memory.cgroup_limit(tmp_path / "v1") == 104857600
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    assert memory.cgroup_limit(tmp_path / "v1") is None
    assert memory.cgroup_limit(tmp_path / "none") is None


def test_gzip_size_is_read_from_the_trailer(tmp_path):
    path = tmp_path / "a.csv.gz"
    path.write_bytes(gzip.compress(b"0,1\n" * 250_000))
    assert memory.file_size(path) == 1_000_000
    assert memory.estimated_need([path]) == 250_000


def test_memory_error_while_reading_names_the_file(tmp_path, monkeypatch):
    source = _plain_channel(tmp_path, 1)
    hp = hyperparameters.parse({"num_round": "1"})
    schema = formats.infer_schema(source.folder, "text/csv")

    def exhausted(*args, **kwargs):
        yield from ()
        raise MemoryError  # what a chunk too large for the memory left raises

    monkeypatch.setattr(formats, "iter_chunks", exhausted)
    plan = matrices.choose(hp, [source], tmp_path, Room(memory=1 << 30, disk=1 << 40))
    with pytest.raises(UserError, match=r"big\.csv: channel train does not fit in memory"):
        matrices.build(plan, [source], hp, schema)


def test_labels_kept_from_each_chunk_do_not_hold_its_parsed_block(tmp_path):
    """The first pass keeps every chunk's labels (and weights); a label that is a column of
    the parsed block keeps the whole block alive, so a channel piled up in memory (#11)."""
    folder = tmp_path / "train"
    folder.mkdir()
    rows = np.random.default_rng(0).integers(0, 9, size=(20_000, 52))
    np.savetxt(folder / "wide.csv", rows, fmt="%d", delimiter=",")  # 2 MB of text
    kept = []
    tracemalloc.start()
    try:
        for chunk in formats.iter_chunks(folder, "text/csv", csv_weights=True, chunk_rows=500):
            kept.append((chunk.y, chunk.weight))
        del chunk
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(kept) > 10
    labels = sum(y.nbytes + w.nbytes for y, w in kept)  # 160 kB
    assert held < 4 * labels, f"{held} bytes held for {labels} bytes of labels and weights"


def test_a_gzip_channel_that_fits_nowhere_fails_naming_the_file(tmp_path):
    """The need is the text gzip unpacks to (its trailer), not the bytes on disk (#11)."""
    folder = tmp_path / "train"
    folder.mkdir()
    with gzip.open(folder / "rows.csv.gz", "wb", compresslevel=1) as out:
        for _ in range(40):
            out.write(b"1,2.5,3.25\n" * 100_000)  # 44 MB of text, about 0.2 MB packed
    assert (folder / "rows.csv.gz").stat().st_size < 1 << 20
    hp = hyperparameters.parse({"num_round": "1"})
    sources = [Source("train", folder, "text/csv")]
    with pytest.raises(UserError) as refused:
        matrices.choose(hp, sources, tmp_path, Room(memory=4 << 20, disk=4 << 20))
    reason = str(refused.value)
    assert "\n" not in reason
    assert reason.startswith(f"{folder / 'rows.csv.gz'}: the channels need about 10 MB, more")


HEAP_PATTERN = """
import sys
from pathlib import Path
import numpy as np
from xgb_container import memory
if sys.argv[1] == "fixed":
    assert memory.give_back_freed_blocks()
def anon():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) >> 10
first = np.ones(16 << 20, np.uint8)
del first  # a first large block freed: glibc raises its threshold
start, blocks, kept = anon(), [], []
for _ in range(20):
    blocks.append(np.ones(2 << 20, np.uint8))  # a chunk and its copies
    kept.append(np.ones(1000, np.uint8))  # small arrays that live on between them
del blocks
print(anon() - start)
"""


@pytest.mark.parametrize("heap", ["glibc", "fixed"])
def test_freed_chunks_go_back_to_the_system_on_the_external_path(heap):
    """40 MB of chunks freed between small live arrays: glibc's default keeps them resident;
    the fixed threshold (external memory) gives them back (#11)."""
    done = subprocess.run(
        [sys.executable, "-c", HEAP_PATTERN, heap],
        env=program_env(Path("/nonexistent")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    kept_mb = int(done.stdout)
    assert (kept_mb > 30) if heap == "glibc" else (kept_mb < 10), kept_mb
