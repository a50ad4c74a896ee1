"""Local monitoring: the image's ``monitor`` on the local Docker engine over a capture folder."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from ..errors import LaunchError
from ..monitor_requests import PROCESSING, environment
from ..monitoring import baseline_files, print_violations
from .docker import LABEL, check_image, engine


def inputs(args: argparse.Namespace) -> tuple[Path, dict[str, bytes], Path | None]:
    """The capture folder, the baseline files and the ground-truth folder, all checked."""
    if not args.capture or args.capture.startswith("s3://"):
        raise LaunchError("monitor --local needs --capture FOLDER (a local capture folder)")
    capture = Path(args.capture).resolve()
    if not capture.is_dir():
        raise LaunchError(f"capture folder {capture} does not exist")
    if not args.model_data:
        raise LaunchError("monitor --local needs --model-data (model folder or model.tar.gz)")
    files = baseline_files(Path(args.model_data))
    truth = Path(args.ground_truth).resolve() if args.ground_truth else None
    if truth is not None and not truth.is_dir():
        raise LaunchError(f"ground-truth folder {truth} does not exist")
    return capture, files, truth


def run(args: argparse.Namespace) -> int:
    """Run ``IMAGE monitor`` over the capture folder; print the violations."""
    capture, files, truth = inputs(args)
    client = engine()
    image = check_image(client, args.image)
    work = Path(tempfile.mkdtemp(prefix="monitor-", dir=_ensure(args.local_dir)))
    output = Path(args.output).resolve() if args.output else work / "reports"
    output.mkdir(parents=True, exist_ok=True)
    (work / "baseline").mkdir()
    for name, raw in files.items():
        (work / "baseline" / name).write_bytes(raw)
    (work / "ml-output").mkdir()
    volumes = {
        str(capture): {"bind": f"{PROCESSING}/input/endpoint", "mode": "ro"},
        str(work / "baseline"): {"bind": f"{PROCESSING}/baseline", "mode": "ro"},
        str(output): {"bind": f"{PROCESSING}/output", "mode": "rw"},
        str(work / "ml-output"): {"bind": "/opt/ml/output", "mode": "rw"},
    }
    if truth is not None:
        volumes[str(truth)] = {"bind": f"{PROCESSING}/groundtruth", "mode": "ro"}
    container = client.containers.run(
        image,
        ["monitor"],
        detach=True,
        labels={LABEL: "monitor"},
        environment=environment(args, truth is not None),
        volumes=volumes,
    )
    try:
        status = container.wait()["StatusCode"]
        logs = container.logs().decode("utf-8", "replace")
    finally:
        container.remove(force=True)
    if status != 0:
        failure = work / "ml-output" / "failure"
        reason = failure.read_text().splitlines()[0] if failure.exists() else logs.strip()[-500:]
        print(f"monitor failed (exit {status}): {reason}", file=sys.stderr)
        return 1
    violations = json.loads((output / "constraint_violations.json").read_text())["violations"]
    print_violations(violations, json.loads((output / "report.json").read_text()))
    print(f"reports in {output}")
    return 0


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()
