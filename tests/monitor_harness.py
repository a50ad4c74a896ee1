"""Shared pieces of the monitoring tests: a real Taiwan training and capture files written
exactly as SageMaker's data capture writes them."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import TAIWAN, Job, program_env

LABEL = "default payment next month"
START = datetime(2026, 11, 30, 9, 0, 0, tzinfo=UTC)


def taiwan_split(seed: int = 7) -> dict[str, pd.DataFrame]:
    """Taiwan without its ID: train 16000, validation 5000, held-out 9000 rows."""
    table = pd.read_csv(TAIWAN).drop(columns=["ID"]).sample(frac=1.0, random_state=seed)
    table = table.reset_index(drop=True)
    return {
        "train": table.iloc[:16000],
        "validation": table.iloc[16000:21000],
        "heldout": table.iloc[21000:],
    }


def train_taiwan(base: Path, parts: dict[str, pd.DataFrame]) -> Job:
    """A real training job on the split (header CSV); the job, trained."""
    job = Job(base)
    job.write_config("resourceconfig", {"current_host": "algo-1", "hosts": ["algo-1"]})
    job.hyperparameters(
        objective="binary:logistic",
        num_round=40,
        max_depth=4,
        eta=0.2,
        label_column=LABEL,
        decision_threshold="f1_best",
    )
    for name in ("train", "validation"):
        folder = job.channel(name, "text/csv; header=present")
        parts[name].to_csv(folder / f"{name}.csv", index=False)
    done = job.train()
    assert done.returncode == 0, done.stderr + job.failure
    return job


def shifted(frame: pd.DataFrame) -> pd.DataFrame:
    """Applicants with higher credit limits and older: the drift the monitor must flag."""
    out = frame.copy()
    out["LIMIT_BAL"] = out["LIMIT_BAL"] * 1.5
    out["AGE"] = out["AGE"] + 7
    return out


def csv_body(frame: pd.DataFrame) -> str:
    """Headerless CSV of the feature columns (Taiwan's are whole numbers)."""
    rows = frame.drop(columns=[LABEL]).to_numpy().tolist()
    return "".join(",".join(str(v) for v in row) + "\n" for row in rows)


def capture_line(
    body: str | bytes,
    content_type: str,
    output: str,
    accept: str,
    *,
    when: datetime,
    encoding: str = "CSV",
    event_id: str | None = None,
    inference_id: str | None = None,
) -> str:
    """One line of a data-capture file as SageMaker writes it."""
    raw = body.encode() if isinstance(body, str) else body
    out_raw = output.encode()
    if encoding == "BASE64":
        data, out_data = base64.b64encode(raw).decode(), base64.b64encode(out_raw).decode()
    else:
        data, out_data = raw.decode(), out_raw.decode()
    metadata = {
        "eventId": event_id or str(uuid.uuid4()),
        "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    }
    if inference_id:
        metadata["inferenceId"] = inference_id
    line = {
        "captureData": {
            "endpointInput": {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": data,
                "encoding": encoding,
            },
            "endpointOutput": {
                "observedContentType": accept,
                "mode": "OUTPUT",
                "data": out_data,
                "encoding": encoding,
            },
        },
        "eventMetadata": metadata,
        "eventVersion": "0",
    }
    return json.dumps(line, separators=(",", ":"))


def capture_path(root: Path, when: datetime, name: str = "capture") -> Path:
    folder = root / "credit-endpoint" / "AllTraffic" / when.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{when.strftime('%M-%S-%f')[:-3]}-{name}.jsonl"


def predict_scores(model_dir: Path, frame: pd.DataFrame) -> np.ndarray:
    """The model's probabilities for the rows, as the server would answer them."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray((model_dir / "xgboost-model").read_bytes()))
    X = frame.drop(columns=[LABEL]).to_numpy(dtype=np.float32)
    return booster.inplace_predict(X, validate_features=False)


def write_capture(
    root: Path,
    frame: pd.DataFrame,
    model_dir: Path,
    *,
    rows_per_record: int = 5,
    start: datetime = START,
    encodings: tuple[str, ...] = ("CSV",),
) -> list[str]:
    """Capture files of ``frame`` sent in records of ``rows_per_record`` rows, one record a
    second, answers in CSV; the event ids in order."""
    scores = predict_scores(model_dir, frame)
    rows = csv_body(frame).splitlines(keepends=True)
    ids = []
    lines_by_file: dict[Path, list[str]] = {}
    for i, begin in enumerate(range(0, len(frame), rows_per_record)):
        when = start + timedelta(seconds=i)
        output = "".join(f"{s:.6f}\n" for s in scores[begin : begin + rows_per_record])
        event = str(uuid.uuid4())
        ids.append(event)
        line = capture_line(
            "".join(rows[begin : begin + rows_per_record]),
            "text/csv",
            output,
            "text/csv",
            when=when,
            encoding=encodings[i % len(encodings)],
            event_id=event,
        )
        hour = when.replace(minute=0, second=0, microsecond=0)
        lines_by_file.setdefault(hour, []).append(line)
    for hour, lines in lines_by_file.items():
        with capture_path(root, hour).open("a") as f:
            f.write("\n".join(lines) + "\n")
    return ids


def run_monitor(base: Path, env: dict[str, str], timeout: float = 300):
    return subprocess.run(
        [sys.executable, "-m", "xgb_container", "monitor"],
        env=program_env(base, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
