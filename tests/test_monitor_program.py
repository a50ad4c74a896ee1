"""``python -m xgb_container monitor`` on capture files in SageMaker's exact format, against
the baseline of a real Taiwan training."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from monitor_harness import (
    LABEL,
    START,
    capture_line,
    capture_path,
    csv_body,
    predict_scores,
    run_monitor,
    shifted,
    taiwan_split,
    train_taiwan,
    write_capture,
)
from sklearn import metrics

CHECK_TYPES = {
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "missing_column_check",
    "extra_column_check",
    "categorical_values_check",
}


@pytest.fixture(scope="module")
def taiwan(tmp_path_factory: pytest.TempPathFactory):
    """A real training on Taiwan; its job and the held-out rows."""
    parts = taiwan_split()
    job = train_taiwan(tmp_path_factory.mktemp("taiwan") / "ml", parts)
    return job, parts["heldout"].reset_index(drop=True)


def monitor_env(job, source: Path, output: Path, **extra: str) -> dict[str, str]:
    baseline = job.model_dir / "baseline"
    return {
        "dataset_source": str(source),
        "output_path": str(output),
        "baseline_statistics": str(baseline / "statistics.json"),
        "baseline_constraints": str(baseline / "constraints.json"),
        **extra,
    }


def monitor(tmp_path: Path, job, source: Path, **extra: str):
    """Run the monitor; (process, output folder, violations, report)."""
    out = tmp_path / "report"
    done = run_monitor(tmp_path / "mon", monitor_env(job, source, out, **extra))
    assert done.returncode == 0, done.stderr
    violations = json.loads((out / "constraint_violations.json").read_text())["violations"]
    report = json.loads((out / "report.json").read_text())
    return done, out, violations, report


def test_baseline_files_hold_model_monitor_fields(taiwan):
    job, _ = taiwan
    stats = json.loads((job.model_dir / "baseline" / "statistics.json").read_text())
    limits = json.loads((job.model_dir / "baseline" / "constraints.json").read_text())
    assert stats["dataset"]["item_count"] == 16000
    by_name = {f["name"]: f for f in stats["features"]}
    assert list(by_name) == [c for c in taiwan_split()["train"].columns if c != LABEL]
    age = by_name["AGE"]
    assert age["inferred_type"] == "Integral"
    numbers = age["numerical_statistics"]
    train_age = taiwan_split()["train"]["AGE"]
    assert numbers["common"] == {"num_present": 16000, "num_missing": 0}
    assert numbers["mean"] == pytest.approx(train_age.mean())
    assert numbers["std_dev"] == pytest.approx(train_age.std(ddof=0))
    assert numbers["sum"] == pytest.approx(train_age.sum())
    assert (numbers["min"], numbers["max"]) == (train_age.min(), train_age.max())
    buckets = numbers["distribution"]["kll"]["buckets"]
    assert len(buckets) == 10 and sum(b["count"] for b in buckets) == 16000
    assert buckets[0]["lower_bound"] == train_age.min()
    assert sum(numbers["distribution"]["psi_bins"]["counts"]) == 16000
    constraint = {f["name"]: f for f in limits["features"]}["AGE"]
    assert constraint["completeness"] == 1.0
    assert constraint["num_constraints"]["is_non_negative"] is True
    assert {f["name"]: f for f in limits["features"]}["PAY_0"]["num_constraints"] == {
        "is_non_negative": False
    }
    config = limits["monitoring_config"]
    assert config["distribution_constraints"]["comparison_method"] == "PSI"
    assert config["distribution_constraints"]["comparison_threshold"] > 0
    # score distribution and quality on the validation channel, as training evaluated it
    evaluation = job.evaluation("validation")
    score = stats["score"]
    assert score["item_count"] == 5000
    assert sum(score["psi_bins"]["counts"]) == 5000
    assert score["model_quality"]["roc_auc"] == pytest.approx(evaluation["roc_auc"])
    assert score["training_evaluation"]["roc_auc"] == evaluation["roc_auc"]
    meta = json.loads((job.model_dir / "metadata.json").read_text())
    assert score["model_quality"]["threshold"] == meta["threshold"]
    cm = evaluation["at_decision_threshold"]["confusion_matrix"]
    assert score["model_quality"]["confusion_matrix"] == cm


def test_baseline_of_categorical_features(german_model: Path):
    stats = json.loads((german_model / "baseline" / "statistics.json").read_text())
    limits = json.loads((german_model / "baseline" / "constraints.json").read_text())
    meta = json.loads((german_model / "metadata.json").read_text())
    housing = {f["name"]: f for f in stats["features"]}["housing"]
    assert housing["inferred_type"] == "String"
    buckets = housing["string_statistics"]["distribution"]["categorical"]["buckets"]
    assert [b["value"] for b in buckets] == meta["categories"]["housing"]
    assert sum(b["count"] for b in buckets) == stats["dataset"]["item_count"] == 700
    domains = {f["name"]: f for f in limits["features"]}["housing"]["string_constraints"]
    assert domains["domains"] == meta["categories"]["housing"]
    # scores of a model with categorical features, as training evaluated them
    evaluation = json.loads(
        (german_model.parent / "output/data/evaluation-validation.json").read_text()
    )
    assert stats["score"]["model_quality"]["roc_auc"] == pytest.approx(evaluation["roc_auc"])


def test_held_out_sample_of_the_same_population_flags_nothing(taiwan, tmp_path):
    job, heldout = taiwan
    source = tmp_path / "capture"
    write_capture(source, heldout.iloc[:3000], job.model_dir, encodings=("CSV", "BASE64"))
    done, out, violations, report = monitor(tmp_path, job, source)
    assert violations == []
    assert report["summary"]["rows"] == 3000 and report["summary"]["records"] == 600
    assert report["summary"]["malformed_lines"] == 0
    assert all(f["judged"] and not f["drifted"] for f in report["features"])
    assert max(f["psi"] for f in report["features"]) < 0.05
    assert report["score"]["drifted"] is False
    assert not list(out.glob("*.png"))
    stats = json.loads((out / "statistics.json").read_text())
    assert stats["dataset"]["item_count"] == 3000
    age = {f["name"]: f for f in stats["features"]}["AGE"]["numerical_statistics"]
    assert age["mean"] == pytest.approx(heldout["AGE"].iloc[:3000].mean())
    assert "0 violations" in done.stdout


def test_shifted_limits_and_ages_are_flagged_on_those_features(taiwan, tmp_path):
    job, heldout = taiwan
    source = tmp_path / "capture"
    write_capture(source, shifted(heldout.iloc[3000:6000]), job.model_dir)
    _, out, violations, report = monitor(tmp_path, job, source)
    drifted = {
        v["feature_name"]
        for v in violations
        if v["constraint_check_type"] == "baseline_drift_check"
    }
    assert drifted == {"LIMIT_BAL", "AGE"}
    assert {v["constraint_check_type"] for v in violations} <= CHECK_TYPES | {"score_drift_check"}
    assert [f["name"] for f in report["features"][:2]] == ["AGE", "LIMIT_BAL"]
    assert report["summary"]["violated_features"][:2] == ["LIMIT_BAL", "AGE"] or set(
        report["summary"]["violated_features"][:2]
    ) == {"LIMIT_BAL", "AGE"}
    assert all(not f["drifted"] for f in report["features"][2:])
    for name in ("AGE", "LIMIT_BAL"):
        picture = image.imread(out / f"drift-{name}.png")
        assert picture.shape[0] >= 400 and picture.shape[1] >= 600
    assert sorted(p.name for p in out.glob("*.png")) == ["drift-AGE.png", "drift-LIMIT_BAL.png"]


def test_json_payloads_base64_and_a_broken_line(taiwan, tmp_path):
    job, heldout = taiwan
    source = tmp_path / "capture"
    rows = heldout.iloc[:400]
    scores = predict_scores(job.model_dir, rows)
    features = rows.drop(columns=[LABEL])
    lines = []
    for i in range(0, 400, 4):
        part = features.iloc[i : i + 4]
        when = START + timedelta(seconds=i)
        answer = json.dumps({"predictions": [{"probability": float(s)} for s in scores[i : i + 4]]})
        if i % 8 == 0:  # instances keyed by name, as JSON (text in the capture)
            body = json.dumps({"instances": part.to_dict("records")})
            lines.append(
                capture_line(
                    body, "application/json", answer, "application/json", when=when, encoding="JSON"
                )
            )
        else:  # JSON lines of value lists, base64 in the capture
            body = "".join(json.dumps(r) + "\n" for r in part.values.tolist())
            lines.append(
                capture_line(
                    body,
                    "application/jsonlines",
                    answer,
                    "application/json",
                    when=when,
                    encoding="BASE64",
                )
            )
    lines.insert(7, '{"captureData": {"endpointInput": {"observedContentType": "text/csv", "da')
    path = capture_path(source, START)
    path.write_text("\n".join(lines) + "\n")
    _, _, violations, report = monitor(tmp_path, job, source)
    assert report["summary"]["malformed_lines"] == 1
    assert report["summary"]["rows"] == 400 and report["summary"]["records"] == 100
    assert report["malformed_examples"][0].startswith(f"{path.relative_to(source)}:8: ")
    assert violations == []
    assert report["score"]["rows"] == 400


def test_period_from_start_and_end_time(taiwan, tmp_path):
    job, heldout = taiwan
    source = tmp_path / "capture"
    write_capture(source, heldout.iloc[:2000], job.model_dir, rows_per_record=2)  # 1000 s
    start = START + timedelta(seconds=100)
    end = START + timedelta(seconds=700)
    _, _, _, report = monitor(
        tmp_path,
        job,
        source,
        start_time=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        end_time=end.isoformat(),
    )
    assert report["summary"]["records"] == 600
    assert report["summary"]["rows"] == 1200
    assert report["summary"]["outside_window"] == 400


def ground_truth(folder: Path, events: list[str], labels: np.ndarray, per: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, event in enumerate(events):
        data = ",".join(str(int(v)) for v in labels[i * per : (i + 1) * per])
        lines.append(
            json.dumps(
                {
                    "groundTruthData": {"data": data, "encoding": "CSV"},
                    "eventMetadata": {"eventId": event},
                    "eventVersion": "0",
                }
            )
        )
    lines.append(
        json.dumps({"groundTruthData": {"data": "1"}, "eventMetadata": {"eventId": "nobody"}})
    )
    lines.append("not json")
    (folder / "labels.jsonl").write_text("\n".join(lines) + "\n")


def test_ground_truth_joined_by_event_id(taiwan, tmp_path):
    job, heldout = taiwan
    source = tmp_path / "capture"
    rows = heldout.iloc[:3000]
    events = write_capture(source, rows, job.model_dir, rows_per_record=1)
    truth = tmp_path / "truth"
    y = rows[LABEL].to_numpy()
    ground_truth(truth, events, y, 1)
    _, _, violations, report = monitor(tmp_path, job, source, ground_truth_source=str(truth))
    quality = report["model_quality"]
    scores = predict_scores(job.model_dir, rows)
    rounded = np.round(scores, 6)
    assert quality["rows"] == 3000
    assert quality["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, rounded))
    assert quality["ground_truth"]["unmatched"] == 1
    assert quality["ground_truth"]["malformed"] == 1
    threshold = json.loads((job.model_dir / "metadata.json").read_text())["threshold"]
    tn, fp, fn, tp = metrics.confusion_matrix(y, rounded >= threshold).ravel()
    assert quality["confusion_matrix"] == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
    assert quality["baseline"]["roc_auc"] == pytest.approx(job.evaluation("validation")["roc_auc"])
    assert violations == []
    # the same traffic whose labels came out the other way round: quality collapsed
    broken = tmp_path / "truth-flipped"
    ground_truth(broken, events, 1 - y, 1)
    _, _, violations, report = monitor(tmp_path, job, source, ground_truth_source=str(broken))
    assert [v["constraint_check_type"] for v in violations] == ["model_quality_check"]
    assert report["model_quality"]["roc_auc"] < 0.5


def german_line(body: str, when, content_type: str = "text/csv") -> str:
    return capture_line(
        body, content_type, "0.5\n" * max(1, body.count("\n")), "text/csv", when=when
    )


def test_column_type_completeness_and_domain_checks(german_model: Path, tmp_path: Path):
    class Job:
        model_dir = german_model

    meta = json.loads((german_model / "metadata.json").read_text())
    names = meta["feature_names"]
    import pandas as pd

    table = pd.read_csv(
        Path(__file__).parent.parent / "local_test/test_dir/input/data/test/german_credit_test.csv"
    )
    features = table.drop(columns=["creditability"])
    source = tmp_path / "capture"
    path = capture_path(source, START)
    lines = []
    for i in range(0, 150, 3):
        part = features.iloc[i : i + 3].copy()
        if i == 0:
            part["housing"] = ["castle", "own", "rent"]  # an unknown category
            part["duration_in_month"] = [12.5, 6, 24]  # Integral in the baseline
            part["age_in_years"] = [None, 30, 40]  # missing
        body = part.to_csv(header=False, index=False)
        lines.append(german_line(body, START + timedelta(seconds=i)))
    record = json.loads(features.iloc[[0]].to_json(orient="records"))[0]
    record.pop("telephone")
    record["customer_name"] = "X"
    lines.append(german_line(json.dumps({"instances": [record]}), START, "application/json"))
    lines.append(german_line("1,2,3\n", START))  # too few values
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "report"
    done = run_monitor(
        tmp_path / "mon",
        monitor_env(Job, source, out),
    )
    assert done.returncode == 0, done.stderr
    violations = json.loads((out / "constraint_violations.json").read_text())["violations"]
    found = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    assert ("housing", "categorical_values_check") in found
    assert ("duration_in_month", "data_type_check") in found
    assert ("age_in_years", "completeness_check") in found
    assert ("customer_name", "extra_column_check") in found
    # the JSON record lacks telephone, but positional records carry every column
    assert not [v for v in violations if v["description"] == "no captured row names it"]
    assert (names[3], "missing_column_check") in found  # the three-value row
    assert {t for _, t in found} <= CHECK_TYPES
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["malformed_lines"] == 1
    assert "castle" not in (out / "report.json").read_text()
    assert "castle" not in (out / "constraint_violations.json").read_text()
    assert "castle" not in (out / "statistics.json").read_text()


def test_cloudwatch_metrics_when_enabled(taiwan, tmp_path):
    job, heldout = taiwan
    source = tmp_path / "capture"
    write_capture(source, heldout.iloc[:500], job.model_dir)
    monitor(
        tmp_path,
        job,
        source,
        publish_cloudwatch_metrics="Enabled",
        sagemaker_endpoint_name="credit",
        sagemaker_monitoring_schedule_name="hourly",
        end_time="2026-11-30T10:00:00Z",
    )
    path = tmp_path / "mon" / "output" / "metrics" / "cloudwatch" / "metrics.jsonl"
    metrics_by_name = {m["MetricName"]: m for m in map(json.loads, path.read_text().splitlines())}
    age = metrics_by_name["feature_data_AGE"]
    assert age["StatisticValues"]["SampleCount"] == 500
    assert age["StatisticValues"]["Sum"] == pytest.approx(heldout["AGE"].iloc[:500].sum())
    assert age["Timestamp"] == "2026-11-30T10:00:00Z"
    assert age["Dimensions"] == [
        {"Name": "Endpoint", "Value": "credit"},
        {"Name": "MonitoringSchedule", "Value": "hourly"},
    ]
    assert metrics_by_name["feature_non_null_AGE"]["Value"] == 1.0
    assert "feature_baseline_drift_LIMIT_BAL" in metrics_by_name
    # disabled: no metrics
    other = tmp_path / "other"
    done = run_monitor(other, monitor_env(job, source, tmp_path / "r2"))
    assert done.returncode == 0
    assert not (other / "output" / "metrics").exists()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"dataset_source": ""}, "dataset_source is not set"),
        ({"dataset_source": "/nonexistent/capture"}, "is not a folder"),
        ({"baseline_statistics": "/nonexistent/statistics.json"}, "does not exist"),
        ({"baseline_constraints": ""}, "a baseline is needed"),
        ({"start_time": "yesterday"}, "is not an ISO 8601 time"),
        (
            {"start_time": "2026-12-01T00:00:00Z", "end_time": "2026-11-01T00:00:00Z"},
            "is not before",
        ),
        ({"publish_cloudwatch_metrics": "yes"}, "use Enabled or Disabled"),
        ({"dataset_format": '{"csv": {"header": true}}'}, "sagemakerCaptureJson"),
        ({"ground_truth_source": "/nonexistent/truth"}, "is not a folder"),
    ],
)
def test_bad_configuration_is_a_reason_and_exit_1(taiwan, tmp_path, change, reason):
    job, heldout = taiwan
    source = tmp_path / "capture"
    write_capture(source, heldout.iloc[:10], job.model_dir)
    env = {**monitor_env(job, source, tmp_path / "report"), **change}
    base = tmp_path / "mon"
    done = run_monitor(base, env)
    assert done.returncode == 1
    failure = (base / "output" / "failure").read_text()
    assert reason in failure.splitlines()[0]


def test_only_broken_lines_is_a_failure_that_says_so(taiwan, tmp_path):
    job, _ = taiwan
    source = tmp_path / "capture"
    source.mkdir()
    (source / "x.jsonl").write_text("garbage\n{}\n")
    base = tmp_path / "mon"
    done = run_monitor(base, monitor_env(job, source, tmp_path / "report"))
    assert done.returncode == 1
    assert "2 lines, 2 malformed" in (base / "output" / "failure").read_text()


def test_baseline_from_another_tool_is_refused(taiwan, tmp_path):
    job, heldout = taiwan
    source = tmp_path / "capture"
    write_capture(source, heldout.iloc[:10], job.model_dir)
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"version": 0.0, "features": []}))
    base = tmp_path / "mon"
    env = {**monitor_env(job, source, tmp_path / "report"), "baseline_statistics": str(foreign)}
    done = run_monitor(base, env)
    assert done.returncode == 1
    assert "not this container's baseline" in (base / "output" / "failure").read_text()


def test_event_ids_are_unique_per_record(taiwan, tmp_path):
    job, heldout = taiwan
    ids = write_capture(tmp_path, heldout.iloc[:20], job.model_dir)
    assert len(set(ids)) == 4 and all(uuid.UUID(i) for i in ids)
    assert csv_body(heldout.iloc[:1]).count(",") == 22


def test_baseline_of_a_libsvm_channel_counts_absent_entries_as_missing(job):
    rng = np.random.default_rng(0)
    lines = []
    for i in range(400):
        x0, x2 = rng.normal(), rng.normal()
        label = int(x0 + x2 > 0)
        middle = "" if i % 2 else f" 1:{rng.integers(1, 5)}"
        lines.append(f"{label} 0:{x0:.4f}{middle} 2:{x2:.4f}")
    for name in ("train", "validation"):
        folder = job.channel(name, "text/libsvm")
        (folder / "part.libsvm").write_text("\n".join(lines) + "\n")
    job.hyperparameters(objective="binary:logistic", num_round=10)
    done = job.train()
    assert done.returncode == 0, done.stderr + job.failure
    stats = json.loads((job.model_dir / "baseline" / "statistics.json").read_text())
    by_name = {f["name"]: f["numerical_statistics"] for f in stats["features"]}
    assert by_name["f1"]["common"] == {"num_present": 200, "num_missing": 200}
    assert by_name["f0"]["common"]["num_missing"] == 0
    assert stats["score"]["model_quality"]["roc_auc"] == pytest.approx(
        job.evaluation("validation")["roc_auc"]
    )
