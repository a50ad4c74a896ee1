"""The Docker engine, the image check, and the serving container the local flows share."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import LaunchError

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


def check_image(client, image: str) -> str:  # noqa: ANN001
    import docker

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise LaunchError(
            f"image {image} is not a local image; build it: local_test/build_image.sh {image}"
        ) from None
    return image


def find_endpoint(client, name: str):  # noqa: ANN001, ANN201 - docker Container or None
    import docker

    try:
        container = client.containers.get(name)
    except docker.errors.NotFound:
        return None
    return container if LABEL in container.labels else None


def start_server(client, image: str, name: str, model: Path, port: int, env: dict[str, str]):  # noqa: ANN001, ANN201
    """``IMAGE serve`` with the model mounted; the container and its base URL once /ping is 200."""
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


def endpoint_url(container) -> str:  # noqa: ANN001
    container.reload()
    port = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
    return f"http://127.0.0.1:{port}"


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
