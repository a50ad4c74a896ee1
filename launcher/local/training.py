"""Local training: ``/opt/ml`` per host as SageMaker lays it out, one container per host."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from .. import report, specs, values
from ..errors import LaunchError
from .docker import LABEL, check_image, engine


def source_files(source: str) -> tuple[Path, list[Path]]:
    """A local channel's folder and its files (relative paths, sorted as S3 lists keys)."""
    if source.startswith("s3://"):
        raise LaunchError(f"--local reads local data; {source} is in S3 (download it first)")
    path = Path(source.removeprefix("file://"))
    if path.is_file():
        return path.parent, [Path(path.name)]
    if not path.is_dir():
        raise LaunchError(f"input {path} does not exist")
    files = sorted(p.relative_to(path) for p in path.rglob("*") if p.is_file())
    if not files:
        raise LaunchError(f"input folder {path} holds no files")
    return path, files


def lay_out(
    spec: specs.TrainingSpec, root: Path, hosts: list[str], checkpoints: Path | None
) -> None:
    """Write each host's ``/opt/ml`` as SageMaker does, data sharded or replicated."""
    channels = {name: source_files(src) for name, src in spec.channels.items()}
    for rank, host in enumerate(hosts):
        base = root / "hosts" / host
        config = base / "input" / "config"
        config.mkdir(parents=True)
        for folder in ("model", "output/data"):
            (base / folder).mkdir(parents=True)
        files: dict[str, Any] = {
            "hyperparameters": spec.hyperparameters,
            "resourceconfig": {
                "current_host": host,
                "hosts": hosts,
                "network_interface_name": "eth0",
            },
            "inputdataconfig": {name: spec.channel_config(name) for name in channels},
        }
        if checkpoints is not None:
            files["checkpointconfig"] = {
                "LocalPath": specs.CHECKPOINT_DIR,
                "S3Uri": str(checkpoints),
            }
        for name, content in files.items():
            (config / f"{name}.json").write_text(json.dumps(content))
        for name, (folder, names) in channels.items():
            sharded = spec.channel_config(name)["S3DistributionType"] == "ShardedByS3Key"
            mine = names[rank :: len(hosts)] if sharded else names
            target = base / "input" / "data" / name
            target.mkdir(parents=True)
            for relative in mine:
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(folder / relative, target / relative)


class MetricScraper:
    """Applies MetricDefinitions to log lines as SageMaker does (a tab shows as ``#011``)."""

    def __init__(self, definitions: list[dict[str, str]]) -> None:
        self.patterns = [(d["Name"], re.compile(d["Regex"])) for d in definitions]
        self.last: dict[str, float] = {}

    def feed(self, line: str) -> None:
        text = line.replace("\t", "#011")
        for name, pattern in self.patterns:
            found = pattern.search(text)
            if found:
                try:
                    self.last[name] = float(found.group(1))
                except (IndexError, ValueError):
                    continue

    def final(self) -> list[dict[str, Any]]:
        return [{"MetricName": k, "Value": v} for k, v in self.last.items()]


def follow_logs(container, host: str, scraper: MetricScraper, lock: threading.Lock) -> None:  # noqa: ANN001
    buffer = b""
    for chunk in container.logs(stream=True, follow=True):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace")
            with lock:
                print(f"{host} | {line}", file=sys.stderr, flush=True)
                scraper.feed(line)
    if buffer:
        with lock:
            scraper.feed(buffer.decode("utf-8", "replace"))


def finish_time(stamp: str) -> tuple[str, int]:
    """Docker's ``FinishedAt`` (RFC 3339, trailing zeros of the fraction cut) as a sort key."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return whole, int(fraction.ljust(9, "0")[:9] or 0)


def failure_reason(base: Path, host: str, status: int) -> str:
    failure = base / "output" / "failure"
    if failure.exists():
        text = failure.read_text(errors="replace")[:1024].strip()
        return f"{host}: {text}"
    return f"{host}: exited with status {status} without writing output/failure"


def collect_model(root: Path, hosts: list[str]) -> Path | None:
    """``model.tar.gz`` from the first host whose model folder holds files, as SageMaker tars it."""
    for host in hosts:
        model = root / "hosts" / host / "model"
        if any(model.iterdir()):
            shutil.copytree(model, root / "model")
            archive = root / "model.tar.gz"
            with tarfile.open(archive, "w:gz") as tar:
                for item in sorted(model.iterdir()):
                    tar.add(item, arcname=item.name)
            return archive
    return None


def create_containers(
    client, spec: specs.TrainingSpec, root: Path, hosts: list[str], network, checkpoints
):  # noqa: ANN001, ANN201
    """One ``IMAGE train`` container per host, answering to its host name on ``network``."""
    containers = []
    for host in hosts:
        volumes = {str(root / "hosts" / host): {"bind": "/opt/ml", "mode": "rw"}}
        if checkpoints is not None:
            volumes[str(checkpoints)] = {"bind": specs.CHECKPOINT_DIR, "mode": "rw"}
        arn = f"arn:aws:sagemaker:local:000000000000:training-job/{spec.job_name}"
        container = client.containers.create(
            spec.image,
            ["train"],
            name=f"{spec.job_name}-{host}",
            hostname=host,
            labels={LABEL: spec.job_name},
            volumes=volumes,
            environment={
                "TRAINING_JOB_NAME": spec.job_name,
                "TRAINING_JOB_ARN": arn,
                **spec.environment,
            },
            network=network.name,
            networking_config={network.name: client.api.create_endpoint_config(aliases=[host])},
        )
        containers.append((host, container))
    return containers


def wait_hosts(containers, max_run: int, started: float):  # noqa: ANN001, ANN201
    """Each host's exit status and finish time; the hosts stopped for running over ``max_run``."""
    statuses, finished, overtime = {}, {}, []
    deadline = started + max_run
    for host, container in containers:
        try:
            left = max(1.0, deadline - time.monotonic())
            statuses[host] = container.wait(timeout=left)["StatusCode"]
        except requests.exceptions.RequestException:  # run time over: stop as SageMaker does
            overtime.append(host)
            container.stop(timeout=120)
            statuses[host] = container.wait()["StatusCode"]
        container.reload()
        finished[host] = finish_time(container.attrs["State"]["FinishedAt"])
    return statuses, finished, overtime


def outcome(
    spec: specs.TrainingSpec, root: Path, hosts: list[str], waited, description: dict
) -> dict:  # noqa: ANN001
    """The DescribeTrainingJob-shaped end of the job: Stopped, Failed or Completed."""
    statuses, finished, overtime = waited
    if overtime:
        description["TrainingJobStatus"] = "Stopped"
        description["FailureReason"] = f"MaxRuntimeInSeconds ({spec.max_run}) exceeded"
        return description
    failed = sorted((finished[h], h, s) for h, s in statuses.items() if s != 0)
    if failed:  # the first host to fail is the cause; the others often fail because of it
        _, host, code = failed[0]
        description["TrainingJobStatus"] = "Failed"
        description["FailureReason"] = failure_reason(root / "hosts" / host, host, code)
        return description
    archive = collect_model(root, hosts)
    if archive is None:
        description["TrainingJobStatus"] = "Failed"
        description["FailureReason"] = "every host exited 0 but none wrote /opt/ml/model"
        return description
    description["TrainingJobStatus"] = "Completed"
    description["ModelArtifacts"] = {"S3ModelArtifacts": str(archive)}
    return description


def run_hosts(client, spec: specs.TrainingSpec, root: Path, hosts: list[str], checkpoints) -> dict:  # noqa: ANN001
    """One container per host on a private network; the DescribeTrainingJob-shaped result."""
    network = client.networks.create(
        f"{spec.job_name}-net", driver="bridge", labels={LABEL: spec.job_name}
    )
    containers, threads = [], []
    scraper, lock = MetricScraper(spec.metrics), threading.Lock()
    started = time.monotonic()
    try:
        containers = create_containers(client, spec, root, hosts, network, checkpoints)
        for host, container in containers:
            container.start()
            thread = threading.Thread(target=follow_logs, args=(container, host, scraper, lock))
            thread.start()
            threads.append(thread)
        waited = wait_hosts(containers, spec.max_run, started)
        for thread in threads:
            thread.join(timeout=30)
    finally:
        for _, container in containers:
            container.remove(force=True)
        network.remove()
    description: dict[str, Any] = {
        "TrainingJobName": spec.job_name,
        "TrainingTimeInSeconds": int(time.monotonic() - started),
        "FinalMetricDataList": scraper.final(),
    }
    return outcome(spec, root, hosts, waited, description)


def local_checkpoints(spec: specs.TrainingSpec) -> Path | None:
    if not spec.checkpoint_s3:
        return None
    if spec.checkpoint_s3.startswith("s3://"):
        raise LaunchError("with --local, --checkpoint-s3 is a local folder")
    checkpoints = Path(spec.checkpoint_s3).resolve()
    checkpoints.mkdir(parents=True, exist_ok=True)
    return checkpoints


def run_job(client, spec: specs.TrainingSpec, root: Path) -> dict:  # noqa: ANN001
    """Lay out and run one checked spec under ``root``; the DescribeTrainingJob-shaped result."""
    if root.exists():
        raise LaunchError(f"{root} exists already: pick another --job-name")
    checkpoints = local_checkpoints(spec)
    hosts = sorted(f"algo-{i}" for i in range(1, spec.instance_count + 1))
    if spec.distribution == "ShardedByS3Key" and spec.instance_count > 1:
        files = len(source_files(spec.channels["train"])[1])
        if files < spec.instance_count:
            print(
                f"warning: train has {files} file(s) for {spec.instance_count} hosts: with "
                "ShardedByS3Key some hosts get no data; split it into more files",
                file=sys.stderr,
            )
    lay_out(spec, root, hosts, checkpoints)
    print(f"job folders in {root / 'hosts'}", file=sys.stderr)
    return run_hosts(client, spec, root, hosts, checkpoints)


def train(args: argparse.Namespace) -> int:
    client = engine()
    job = values.check_name(args.job_name or values.unique_name("xgb"), "job name")
    root = (args.local_dir / job).resolve()
    image = check_image(client, args.image)
    spec = specs.training_spec(args, job, image=image, role="local", output=str(root))
    return report.training(run_job(client, spec, root))
