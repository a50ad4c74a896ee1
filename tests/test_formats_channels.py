"""Channel folders: what counts as a data file, names that are nearly right, content types
both sides accept, and memory that stays bounded however large the (gzip) files are."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import GERMAN, program_env
from xgb_container import formats
from xgb_container.errors import UserError
from xgb_container.formats import channel


def test_a_fifo_in_the_channel_is_refused_by_name(tmp_path):
    (tmp_path / "a.csv").write_text("1,2,3\n")
    os.mkfifo(tmp_path / "b.csv")
    with pytest.raises(UserError, match=r"b\.csv is a FIFO; a channel holds only regular files"):
        formats.load_channel(tmp_path, "text/csv")


def test_a_device_behind_a_link_is_refused_by_name(tmp_path):
    (tmp_path / "part").mkdir()
    (tmp_path / "part" / "zero.csv").symlink_to("/dev/zero")
    with pytest.raises(UserError, match=r"zero\.csv is a device"):
        formats.channel_files(tmp_path)


def test_a_broken_link_is_refused_by_name(tmp_path):
    (tmp_path / "gone.csv").symlink_to(tmp_path / "nowhere.csv")
    with pytest.raises(UserError, match=r"gone\.csv: cannot read the channel file"):
        formats.channel_files(tmp_path)


def test_training_with_a_fifo_fails_naming_it(job):
    folder = job.channel("train")
    (folder / "rows.csv").write_text("1,2,3\n0,1,2\n")
    os.mkfifo(folder / "stream.csv")
    job.hyperparameters(num_round=2)
    done = job.train(timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "stream.csv is a FIFO" in job.failure.splitlines()[0]
    assert "is empty" not in job.failure


def test_a_typo_in_label_column_suggests_the_column(tmp_path):
    (tmp_path / "g.csv").write_bytes(GERMAN.read_bytes())
    with pytest.raises(
        UserError, match="'creditabilty' is not a column; did you mean 'creditability'"
    ):
        formats.load_channel(tmp_path, "text/csv; header=present", label_column="creditabilty")
    with pytest.raises(UserError, match="did you mean 'purpose'"):
        formats.load_channel(
            tmp_path,
            "text/csv; header=present",
            label_column="creditability",
            side_columns=("Purpose",),
        )


@pytest.mark.parametrize(("alias", "media"), sorted(formats.ALIASES.items()))
def test_every_alias_means_the_same_to_training_and_serving(alias, media):
    assert formats.parse_content_type(f"{alias.upper()}; Header=Present") == (
        media,
        {"header": "present"},
    )
    if media == formats.JSON:
        with pytest.raises(UserError, match="not supported for training channels"):
            channel.input_format(alias)
    else:
        assert channel.input_format(alias) in ("csv", "libsvm", "parquet", "jsonlines")


def test_application_csv_trains(tmp_path):
    (tmp_path / "t.csv").write_text("1,2,3\n0,4,5\n")
    assert formats.load_channel(tmp_path, "application/csv").num_rows == 2
    schema = formats.Schema("csv", ["f0", "f1"], ["q", "q"])
    assert formats.decode(b"2,3\n", "application/csv", schema).tolist() == [[2, 3]]


def test_unknown_type_is_refused_alike(tmp_path):
    for value in ("text/plain", "application/x-recordio-protobuf"):
        with pytest.raises(formats.UnsupportedType, match="is not supported; use one of text/csv"):
            formats.parse_content_type(value)
        with pytest.raises(formats.UnsupportedType):
            formats.load_channel(tmp_path, value)


MEASURE = """
import json, resource, sys
from pathlib import Path
from xgb_container import formats
from xgb_container.formats import files
files.BLOCK_BYTES = 1 << 20
folder, content_type = Path(sys.argv[1]), sys.argv[2]
kwargs = json.loads(sys.argv[3])
warm = Path(sys.argv[4])
for _ in formats.iter_chunks(warm, content_type, chunk_rows=1000, **kwargs):
    pass
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rows = 0
largest = 0
for chunk in formats.iter_chunks(folder, content_type, chunk_rows=65536, **kwargs):
    rows += chunk.num_rows
    largest = max(largest, chunk.num_rows)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"rows": rows, "largest": largest, "grown_mib": grown / 1024}))
"""


def gzip_table(path, header: str, line: str, expanded: int) -> int:
    """A gzip file of ``line`` repeated until ``expanded`` bytes; its number of rows."""
    block = (line * ((1 << 20) // len(line))).encode()
    rows = 0
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(header.encode())
        for _ in range(expanded // len(block)):
            out.write(block)
            rows += block.count(b"\n")
    return rows


@pytest.mark.parametrize(
    ("content_type", "header", "kwargs"),
    [
        ("text/csv", "", {}),
        ("text/csv; header=present", "risk,purpose,a,b,c,d,e,f\n", {"label_column": "risk"}),
    ],
    ids=["plain", "header"],
)
def test_a_gzip_far_larger_than_a_chunk_streams_in_bounded_memory(
    tmp_path, content_type, header, kwargs
):
    expanded = 64 << 20
    folder, warm = tmp_path / "big", tmp_path / "warm"
    folder.mkdir()
    warm.mkdir()
    first = "bad,car," if header else "1,"
    line = first + "0.25,1.5,2.125,-3.0625,4.5,5.75\n"
    rows = gzip_table(folder / "t.csv.gz", header, line, expanded)
    (warm / "w.csv").write_text(header + line * 3000)
    assert (folder / "t.csv.gz").stat().st_size < expanded // 50
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(folder), content_type, json.dumps(kwargs), str(warm)],
        env=program_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rows"] == rows and report["largest"] <= 65536
    # In blocks of 1 MiB; reading it whole would hold the 64 MiB of text, then its copies.
    assert report["grown_mib"] < 40, report


def test_a_gzip_cut_short_names_the_file_at_its_end(tmp_path):
    packed = gzip.compress(b"1,2,3\n" * 3_000_000)
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) * 3 // 4])
    chunks = formats.iter_chunks(tmp_path, "text/csv", chunk_rows=1000)
    with pytest.raises(UserError, match=r"cut\.csv\.gz: broken gzip file"):
        for chunk in chunks:
            assert np.isfinite(chunk.X).all()
