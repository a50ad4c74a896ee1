"""The server's own data capture (XGB_CAPTURE_DIR): SageMaker's format, whole lines after
SIGTERM, SIGKILL and a restart, masking, and the monitor reading what it wrote."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import threading
from pathlib import Path

import pandas as pd
import pytest
import requests
from conftest import TEST_DIR
from monitor_harness import run_monitor
from serve_harness import Server, run_serve
from xgb_container import formats

TEST_CSV = TEST_DIR / "input" / "data" / "test" / "german_credit_test.csv"


@pytest.fixture
def served(german_model: Path, tmp_path: Path) -> Path:
    """A fresh /opt/ml with a copy of the German model; its base folder."""
    base = tmp_path / "ml"
    shutil.copytree(german_model, base / "model")
    return base


def applicants() -> pd.DataFrame:
    return pd.read_csv(TEST_CSV).drop(columns=["creditability"])


def body_of(frame: pd.DataFrame) -> str:
    return frame.to_csv(header=False, index=False)


def lines_of(folder: Path) -> list[str]:
    return [line for p in sorted(folder.rglob("*.jsonl")) for line in p.read_text().splitlines()]


def records(folder: Path) -> list[formats.capture.CaptureRecord]:
    return [formats.capture.parse_capture_line(line) for line in lines_of(folder)]


def start(base: Path, tmp_path: Path, name: str, **env: str) -> Server:
    return Server(base, tmp_path / f"{name}.log", workers=2, **env).wait_ready()


def test_capture_is_sagemakers_format_and_survives_a_restart(served, tmp_path):
    capture = tmp_path / "capture"
    frame = applicants()
    env = {"XGB_CAPTURE_DIR": str(capture), "XGB_CAPTURE_ENDPOINT": "credit"}
    server = start(served, tmp_path, "first", **env)
    answers = []
    for i in range(0, 60, 3):
        answer = server.invoke(
            body_of(frame.iloc[i : i + 3]), **{"X-Amzn-SageMaker-Inference-Id": f"app-{i}"}
        )
        assert answer.status_code == 200
        answers.append(answer.text)
    json_body = json.dumps({"instances": json.loads(frame.iloc[:2].to_json(orient="records"))})
    assert (
        server.invoke(json_body, "application/json", Accept="application/json").status_code == 200
    )
    assert server.stop() == 0
    first = records(capture)
    assert len(first) == 21
    files = sorted(capture.rglob("*.jsonl"))
    assert all(p.relative_to(capture).parts[:2] == ("credit", "AllTraffic") for p in files)
    assert all(len(p.relative_to(capture).parts) == 7 for p in files)  # yyyy/mm/dd/hh/file
    by_id = {r.inference_id: r for r in first}
    sent = by_id["app-3"]
    assert sent.input.body.decode() == body_of(frame.iloc[3:6])
    assert sent.input.content_type == "text/csv"
    assert sent.output.body.decode() == answers[1]
    raw = json.loads(next(line for line in lines_of(capture) if "app-3" in line))
    assert raw["captureData"]["endpointInput"]["encoding"] == "CSV"
    assert raw["captureData"]["endpointOutput"]["mode"] == "OUTPUT"
    assert raw["eventVersion"] == "0"
    assert raw["eventMetadata"]["inferenceTime"].endswith("Z")
    assert sum(r.input.content_type == "application/json" for r in first) == 1

    server = start(served, tmp_path, "second", **env)
    assert server.invoke(body_of(frame.iloc[:5])).status_code == 200
    assert server.stop() == 0
    after = records(capture)
    assert len(after) == 22
    assert {r.event_id for r in first} <= {r.event_id for r in after}  # old lines intact
    assert len(sorted(capture.rglob("*.jsonl"))) > len(files)  # new process, new file

    # the monitor reads what the server wrote (62 + 5 rows)
    baseline = served / "model" / "baseline"
    out = tmp_path / "report"
    done = run_monitor(
        tmp_path / "mon",
        {
            "dataset_source": str(capture),
            "output_path": str(out),
            "baseline_statistics": str(baseline / "statistics.json"),
            "baseline_constraints": str(baseline / "constraints.json"),
        },
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["records"] == 22
    assert report["summary"]["rows"] == 67
    assert report["summary"]["malformed_lines"] == 0
    assert report["score"]["rows"] == 67


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(t) for t in text)
    return found


def test_whole_lines_only_after_workers_are_killed_mid_traffic(served, tmp_path):
    capture = tmp_path / "capture"
    frame = applicants()
    big = body_of(pd.concat([frame] * 20))  # 3000 rows: long lines, long writes
    server = start(served, tmp_path, "crash", XGB_CAPTURE_DIR=str(capture))
    stop = threading.Event()
    answered = []

    def load() -> None:
        while not stop.is_set():
            try:
                answered.append(server.invoke(big).status_code)
            except requests.RequestException:
                answered.append(0)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        deadline = 200
        while len(lines_of(capture)) < 5 and deadline:
            threading.Event().wait(0.05)
            deadline -= 1
        for pid in _children(server.proc.pid):
            os.kill(pid, signal.SIGKILL)
        server.proc.kill()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        server.stop()
    lines = lines_of(capture)
    assert len(lines) >= 5
    for text in (p.read_text() for p in capture.rglob("*.jsonl")):
        assert text.endswith("\n")
    for r in map(formats.capture.parse_capture_line, lines):
        assert len(r.input.body.decode().splitlines()) == 3000


def test_masked_columns_never_reach_the_files(served, tmp_path):
    frame = applicants().iloc[:30]
    for mode in ("hash", "drop"):
        capture = tmp_path / f"capture-{mode}"
        server = start(
            served,
            tmp_path,
            mode,
            XGB_CAPTURE_DIR=str(capture),
            XGB_CAPTURE_MASK="personal_status_and_sex,age_in_years",
            XGB_CAPTURE_MASK_MODE=mode,
        )
        assert server.invoke(body_of(frame)).status_code == 200
        rows = json.loads(frame.to_json(orient="records"))
        json_body = json.dumps({"instances": rows})
        assert server.invoke(json_body, "application/json").status_code == 200
        assert server.stop() == 0
        text = "\n".join(lines_of(capture))
        for value in set(frame["personal_status_and_sex"]):
            assert value not in text
        # one file per worker: the two requests may sit in either order
        captured = {r.input.content_type: r for r in records(capture)}
        assert len(records(capture)) == len(captured) == 2
        csv_rows = captured["text/csv"].input.body.decode().splitlines()
        position = list(frame.columns).index("age_in_years")
        cells = [row[position] for row in csv.reader(csv_rows)]
        if mode == "hash":
            assert all(c.startswith("sha256:") for c in cells)
        else:
            assert cells == [""] * len(frame)
        instances = json.loads(captured["application/json"].input.body)["instances"]
        assert ("age_in_years" in instances[0]) == (mode == "hash")
    # the monitor leaves masked columns out of every check and report
    baseline = served / "model" / "baseline"
    out = tmp_path / "report"
    done = run_monitor(
        tmp_path / "mon",
        {
            "dataset_source": str(tmp_path / "capture-hash"),
            "output_path": str(out),
            "baseline_statistics": str(baseline / "statistics.json"),
            "baseline_constraints": str(baseline / "constraints.json"),
            "masked_columns": "personal_status_and_sex,age_in_years",
        },
    )
    assert done.returncode == 0, done.stderr
    violations = json.loads((out / "constraint_violations.json").read_text())["violations"]
    assert not [
        v for v in violations if v["feature_name"] in ("age_in_years", "personal_status_and_sex")
    ]
    written = "".join(p.read_text() for p in out.glob("*.json"))
    assert "sha256:" not in written and '"age_in_years"' not in written


def test_sampling_zero_percent_writes_nothing(served, tmp_path):
    capture = tmp_path / "capture"
    server = start(served, tmp_path, "zero", XGB_CAPTURE_DIR=str(capture), XGB_CAPTURE_PERCENT="0")
    assert server.invoke(body_of(applicants().iloc[:3])).status_code == 200
    assert server.stop() == 0
    assert lines_of(capture) == []


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"XGB_CAPTURE_PERCENT": "200"}, "XGB_CAPTURE_PERCENT=200 must be 0 to 100"),
        ({"XGB_CAPTURE_PERCENT": "all"}, "is not a number"),
        ({"XGB_CAPTURE_MASK": "ssn"}, "XGB_CAPTURE_MASK names ['ssn']"),
        ({"XGB_CAPTURE_MASK_MODE": "blur"}, "use hash or drop"),
    ],
)
def test_bad_capture_settings_stop_the_server_with_a_reason(served, tmp_path, env, reason):
    done = run_serve(served, XGB_CAPTURE_DIR=str(tmp_path / "capture"), **env)
    assert done.returncode == 1
    assert reason in done.stderr + done.stdout


def test_mask_bodies_of_every_text_format():
    schema = formats.Schema("csv-header", ["a", "b", "c"], ["q", "q", "q"])
    mask = formats.masking.mask
    assert mask(b"1,2,3\n4,5,6\n", "text/csv", schema, ["b"], "drop") == b"1,,3\n4,,6\n"
    assert mask(b"c,b,a\n1,2,3\n", "text/csv", schema, ["a"], "drop") == b"c,b,a\n1,2,\n"
    hashed = mask(b"1,2,3\n", "text/csv", schema, ["a"], "hash", "salt").decode()
    assert hashed.startswith("sha256:") and hashed.endswith(",2,3\n")
    assert mask(b"1,2,3\n", "text/csv", schema, ["a"], "hash", "pepper").decode() != hashed
    doc = json.loads(
        mask(
            b'{"instances": [{"a": 1, "b": 2}, [1, 2, 3]]}',
            "application/json",
            schema,
            ["a"],
            "drop",
        )
    )
    assert doc == {"instances": [{"b": 2}, [None, 2, 3]]}
    flat = json.loads(mask(b"[1, 2, 3]", "application/json", schema, ["c"], "drop"))
    assert flat == {"instances": [[1, 2, None]]}
    lines = (
        mask(b'{"a": 1}\n[1, 2, 3]\n', "application/jsonlines", schema, ["a"], "hash")
        .decode()
        .splitlines()
    )
    assert json.loads(lines[0])["a"].startswith("sha256:")
    assert json.loads(lines[1])[0].startswith("sha256:")
    for body, content_type in (
        (b"{", "application/json"),
        (b"\xff", "text/csv"),
        (b"1:2", "text/libsvm"),
    ):
        with pytest.raises(formats.UnsupportedType.__mro__[1]):
            mask(body, content_type, schema, ["a"], "drop")
