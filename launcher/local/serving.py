"""Local endpoints: ``IMAGE serve`` with the model mounted, on a port of 127.0.0.1."""

from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path

from .. import payloads, values
from ..errors import LaunchError
from .docker import check_image, endpoint_url, engine, find_endpoint, post, start_server


def model_folder(args: argparse.Namespace, into: Path) -> Path:
    """The model to serve as a folder: given, unpacked from model.tar.gz, or a local job's."""
    if getattr(args, "model", None) or getattr(args, "model_package", None):
        raise LaunchError("with --local, give --model-data or --training-job")
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


def deploy(args: argparse.Namespace) -> int:
    client = engine()
    name = values.check_name(args.name or values.unique_name("xgb"), "endpoint name")
    if find_endpoint(client, name):
        raise LaunchError(
            f"local endpoint {name} exists already (cleanup --local --endpoint {name})"
        )
    model = model_folder(args, (args.local_dir / "endpoints" / name / "model").resolve())
    env = values.environment(args.env)
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
