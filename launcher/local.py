"""The subcommands on the local Docker engine: the image's own contract, no AWS.

Training lays out one ``/opt/ml`` folder per host under ``--local-dir/JOB/hosts/algo-N`` with
the config files SageMaker writes, and runs ``IMAGE train`` in one container per host on a
private Docker network where each container answers to its host name. Serving runs
``IMAGE serve`` with the model folder mounted and port 8080 published on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import requests

from . import payloads, report, specs
from .errors import LaunchError

LABEL = "sagemaker-launch"  # label on every container and network this tool makes
PING_TIMEOUT = 240.0  # SageMaker waits 4 minutes for a container's first /ping


def engine():  # noqa: ANN201 - docker.DockerClient
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise LaunchError(f"no Docker engine answers ({exc}); --local needs one") from None
    return client


def check_image(client, image: str) -> str:
    import docker

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise LaunchError(
            f"image {image} is not a local image; build it: local_test/build_image.sh {image}"
        ) from None
    return image


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
        resource = {"current_host": host, "hosts": hosts, "network_interface_name": "eth0"}
        files = {
            "hyperparameters": spec.hyperparameters,
            "resourceconfig": resource,
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


def follow_logs(container, host: str, scraper: MetricScraper, lock: threading.Lock) -> None:
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


def train(args: argparse.Namespace) -> int:
    client = engine()
    job = specs.check_name(args.job_name or specs.unique_name("xgb"), "job name")
    root = (args.local_dir / job).resolve()
    if root.exists():
        raise LaunchError(f"{root} exists already: pick another --job-name")
    spec = specs.TrainingSpec(
        job_name=job,
        image=check_image(client, args.image),
        role="local",
        channels={c: getattr(args, c) for c in specs.CHANNELS if getattr(args, c)},
        output_s3=str(root),
        hyperparameters=specs.hyperparameters(args.hyperparameters, args.hp),
        metrics=specs.metric_definitions(args.metric_definitions),
        instance_count=args.instance_count,
        distribution=args.distribution,
        content_type=args.content_type,
        checkpoint_s3=args.checkpoint_s3,
        max_run=args.max_run,
    )
    spec.check()
    checkpoints = Path(args.checkpoint_s3).resolve() if args.checkpoint_s3 else None
    if checkpoints is not None:
        if args.checkpoint_s3.startswith("s3://"):
            raise LaunchError("with --local, --checkpoint-s3 is a local folder")
        checkpoints.mkdir(parents=True, exist_ok=True)
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
    description = run_hosts(client, spec, root, hosts, checkpoints)
    return report.training(description)


def run_hosts(client, spec: specs.TrainingSpec, root: Path, hosts: list[str], checkpoints) -> dict:
    """One container per host on a private network; the DescribeTrainingJob-shaped result."""
    network = client.networks.create(
        f"{spec.job_name}-net", driver="bridge", labels={LABEL: spec.job_name}
    )
    containers, threads = [], []
    scraper, lock = MetricScraper(spec.metrics), threading.Lock()
    started = time.monotonic()
    try:
        for host in hosts:
            volumes = {str(root / "hosts" / host): {"bind": "/opt/ml", "mode": "rw"}}
            if checkpoints is not None:
                volumes[str(checkpoints)] = {"bind": specs.CHECKPOINT_DIR, "mode": "rw"}
            container = client.containers.create(
                spec.image,
                ["train"],
                name=f"{spec.job_name}-{host}",
                hostname=host,
                labels={LABEL: spec.job_name},
                volumes=volumes,
                environment={
                    "TRAINING_JOB_NAME": spec.job_name,
                    "TRAINING_JOB_ARN": f"arn:aws:sagemaker:local:000000000000:training-job/{spec.job_name}",
                    **spec.environment,
                },
                network=network.name,
                networking_config={network.name: client.api.create_endpoint_config(aliases=[host])},
            )
            containers.append((host, container))
        for host, container in containers:
            container.start()
            thread = threading.Thread(target=follow_logs, args=(container, host, scraper, lock))
            thread.start()
            threads.append(thread)
        statuses, finished, overtime = {}, {}, []
        deadline = started + spec.max_run
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


def model_folder(args: argparse.Namespace, into: Path) -> Path:
    """The model to serve as a folder: given, unpacked from model.tar.gz, or a local job's."""
    if getattr(args, "model", None):
        raise LaunchError("with --local, give --model-data or --training-job instead of --model")
    if args.training_job:
        source = (args.local_dir / args.training_job / "model.tar.gz").resolve()
        if not source.exists():
            raise LaunchError(f"local training job {args.training_job} has no {source}")
    elif args.model_data:
        source = Path(args.model_data).resolve()
    else:
        raise LaunchError("give --model-data PATH or --training-job NAME")
    if source.is_dir():
        return source
    if not source.is_file():
        raise LaunchError(f"model {source} does not exist")
    into.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(source) as tar:
            tar.extractall(into, filter="data")
    except tarfile.TarError as exc:
        raise LaunchError(f"model {source} is not a tar archive: {exc}") from None
    return into


def find_endpoint(client, name: str):  # noqa: ANN201 - docker Container or None
    import docker

    try:
        container = client.containers.get(name)
    except docker.errors.NotFound:
        return None
    return container if LABEL in container.labels else None


def start_server(client, image: str, name: str, model: Path, port: int, env: dict[str, str]):  # noqa: ANN201
    """``IMAGE serve`` with the model mounted; returns the container and its base URL once /ping is 200."""
    container = client.containers.run(
        image,
        ["serve"],
        name=name,
        detach=True,
        labels={LABEL: name},
        environment=env,
        volumes={str(model): {"bind": "/opt/ml/model", "mode": "ro"}},
        ports={"8080/tcp": ("127.0.0.1", port or None)},
    )
    deadline = time.monotonic() + PING_TIMEOUT
    while True:
        container.reload()
        if container.status in ("exited", "dead"):
            logs = container.logs(tail=20).decode("utf-8", "replace").strip()
            container.remove(force=True)
            raise LaunchError(f"the serving container {name} stopped: {logs or 'no output'}")
        bound = (container.attrs["NetworkSettings"]["Ports"] or {}).get("8080/tcp")
        if bound:
            url = f"http://127.0.0.1:{bound[0]['HostPort']}"
            if ping(url):
                return container, url
        if time.monotonic() > deadline:
            container.remove(force=True)
            raise LaunchError(f"the serving container {name} did not answer /ping within 4 minutes")
        time.sleep(0.2)


def ping(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/ping", timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


def endpoint_url(container) -> str:
    container.reload()
    return (
        f"http://127.0.0.1:{container.attrs['NetworkSettings']['Ports']['8080/tcp'][0]['HostPort']}"
    )


def post(url: str, body: bytes, content_type: str, accept: str | None) -> bytes:
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    request = urllib.request.Request(
        url + "/invocations", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.read()
    except urllib.error.HTTPError as exc:
        message = exc.read().decode("utf-8", "replace").strip()
        raise LaunchError(f"the model answered HTTP {exc.code}: {message}") from None


def deploy(args: argparse.Namespace) -> int:
    client = engine()
    name = specs.check_name(args.name or specs.unique_name("xgb"), "endpoint name")
    if find_endpoint(client, name):
        raise LaunchError(
            f"local endpoint {name} exists already (cleanup --local --endpoint {name})"
        )
    model = model_folder(args, (args.local_dir / "endpoints" / name / "model").resolve())
    env = specs.environment(args.env)
    _, url = start_server(client, check_image(client, args.image), name, model, args.port, env)
    print(f"{name}: InService at {url}", file=sys.stderr)
    print(name)
    return 0


def invoke(args: argparse.Namespace) -> int:
    client = engine()
    container = find_endpoint(client, args.endpoint)
    if container is None:
        raise LaunchError(f"no local endpoint {args.endpoint} (deploy --local first)")
    url = endpoint_url(container)
    content_type = payloads.content_type_for(args.input, args.content_type)
    for body in payloads.bodies(args.input, content_type, args.rows_per_request):
        answer = post(url, body, content_type, args.accept).decode()
        sys.stdout.write(answer if answer.endswith("\n") else answer + "\n")
    return 0


def batch(args: argparse.Namespace) -> int:
    """A transform job as SageMaker runs it: MultiRecord, SplitType Line, AssembleWith Line."""
    client = engine()
    job = specs.check_name(args.job_name or specs.unique_name("xgb-batch"), "job name")
    root = (args.local_dir / job).resolve()
    output = Path(args.output_s3).resolve() if args.output_s3 else root / "batch-output"
    if not 1 <= args.max_payload_mb <= 100:
        raise LaunchError(f"--max-payload-mb {args.max_payload_mb}: give 1 to 100")
    folder, files = source_files(args.input)
    content_type = args.content_type or payloads.content_type_for(folder / files[0], None)
    if not args.image:
        raise LaunchError("batch --local needs --image (a local image tag)")
    image = check_image(client, args.image)
    model = model_folder(args, root / "model")
    env = {
        "SAGEMAKER_BATCH": "true",
        "SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD",
        "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(args.max_payload_mb),
        "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "1",
        **specs.environment(args.env),
    }
    description: dict[str, Any] = {
        "TransformJobName": job,
        "TransformOutput": {"S3OutputPath": str(output)},
    }
    header_flag = content_type.replace(" ", "")
    container, url = start_server(client, image, job, model, 0, env)
    try:
        for relative in files:
            answers = []
            limit = args.max_payload_mb * 1024 * 1024
            for body in chunks(folder / relative, limit, "header=present" in header_flag):
                answer = post(url, body, content_type, args.accept)
                answers.append(answer if answer.endswith(b"\n") else answer + b"\n")
            target = output / f"{relative}.out"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"".join(answers))
        description["TransformJobStatus"] = "Completed"
    except LaunchError as exc:
        description["TransformJobStatus"] = "Failed"
        description["FailureReason"] = f"{relative}: {exc}"
    finally:
        container.remove(force=True)
    return report.transform(description)


def chunks(path: Path, limit: int, header: bool = False):  # noqa: ANN201 - Iterator[bytes]
    """Whole lines of ``path`` in requests of at most ``limit`` bytes (MultiRecord).

    With ``header``, the file's first line heads every request instead of being a row.
    """
    top, chunk, size = b"", [], 0
    with path.open("rb") as f:
        for line in f:
            if not line.strip():
                continue
            line = line if line.endswith(b"\n") else line + b"\n"
            if header and not top:
                top, size = line, len(line)
                continue
            if len(top) + len(line) > limit:
                raise LaunchError(f"a line of {path.name} is larger than --max-payload-mb")
            if chunk and size + len(line) > limit:
                yield top + b"".join(chunk)
                chunk, size = [], len(top)
            chunk.append(line)
            size += len(line)
    if chunk:
        yield top + b"".join(chunk)


def cleanup(args: argparse.Namespace) -> int:
    if args.model:
        raise LaunchError("with --local there are no models to delete; give --endpoint")
    client = engine()
    for name in args.endpoint:
        container = find_endpoint(client, name)
        if container is None:
            print(f"endpoint {name}: not found")
            continue
        container.stop(timeout=30)
        container.remove(force=True)
        print(f"deleted endpoint {name} (container stopped and removed)")
    return 0
