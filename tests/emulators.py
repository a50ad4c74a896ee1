"""Real local stand-ins for AWS: moto in server mode and Debian's docker-registry.

Both run as separate processes on free loopback ports; the launch tests point the tools at
them through ``AWS_ENDPOINT_URL`` and ``ECR_REGISTRY``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bcrypt

ACCOUNT = "123456789012"  # moto's default account
ECR_PASSWORD = f"{ACCOUNT}-auth-token"  # what moto's GetAuthorizationToken hands out
REGION = "eu-west-1"
VENV_BIN = Path(sys.executable).parent
ROOT_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.1)


def _answers(url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2)
        return True
    except urllib.error.HTTPError:
        return True  # it answers, even if with an error status
    except OSError:
        return False


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Moto:
    """A moto server: its URL, and the requests it received (moto's recorder)."""

    url: str

    def _post(self, path: str, body: bytes = b"") -> bytes:
        request = urllib.request.Request(self.url + path, data=body, method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.read()

    def record(self) -> None:
        """Forget what was recorded so far and record from now on."""
        self._post("/moto-api/recorder/reset-recording")
        self._post("/moto-api/recorder/start-recording")

    def requests(self, target: str | None = None, path: str | None = None) -> list[dict]:
        """Recorded requests, optionally only one ``X-Amz-Target`` or URL path part.

        Each has ``json``: its body parsed when it is a JSON object.
        """
        with urllib.request.urlopen(
            self.url + "/moto-api/recorder/download-recording", timeout=10
        ) as answer:
            lines = answer.read().decode().splitlines()
        found = []
        for line in lines:
            entry = json.loads(line)
            name = entry["headers"].get("X-Amz-Target", "")
            if target and not name.endswith("." + target):
                continue
            if path and path not in entry["url"]:
                continue
            body = entry.get("body") or ""
            if entry.get("body_encoded"):
                body = base64.b64decode(body).decode("utf-8", "replace")
            entry["text"] = body
            entry["json"] = json.loads(body) if body.startswith("{") else None
            found.append(entry)
        return found

    def queue_endpoint_results(self, bodies: list[str], content_type: str) -> None:
        """What moto's sagemaker-runtime answers next (it runs no model itself)."""
        results = [{"Body": b, "ContentType": content_type} for b in bodies]
        payload = {"account_id": ACCOUNT, "region": REGION, "results": results}
        self._post("/moto-api/static/sagemaker/endpoint-results", json.dumps(payload).encode())

    def client_kwargs(self, region: str = REGION) -> dict[str, str]:
        """Keyword arguments for ``boto3.client`` to reach this server."""
        return {
            "endpoint_url": self.url,
            "region_name": region,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a tool that talks to this server, with throw-away credentials."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return {k: v for k, v in env.items() if v != ""}  # "" means: leave it unset


@contextmanager
def moto_server(workdir: Path) -> Iterator[Moto]:
    """Start ``moto.server`` on a free loopback port (recording into ``workdir``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "MOTO_RECORDER_FILEPATH": str(workdir / "recording.jsonl")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is None and _answers(url + "/moto-api/"), 60, "moto server")
        yield Moto(url)
    finally:
        _stop(proc)


@dataclass
class Registry:
    """A local Docker registry that accepts user ``AWS`` with moto's ECR password."""

    host: str

    def tags(self, name: str) -> list[str]:
        token = base64.b64encode(f"AWS:{ECR_PASSWORD}".encode()).decode()
        request = urllib.request.Request(
            f"http://{self.host}/v2/{name}/tags/list", headers={"Authorization": f"Basic {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return sorted(json.load(answer)["tags"])


def registry_binary() -> str | None:
    return shutil.which("docker-registry") or shutil.which("registry")


@contextmanager
def docker_registry(workdir: Path, password: str = ECR_PASSWORD) -> Iterator[Registry]:
    """Start Debian's docker-registry on a free loopback port with htpasswd login."""
    workdir.mkdir(parents=True, exist_ok=True)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    (workdir / "htpasswd").write_text(f"AWS:{hashed}\n")
    port = free_port()
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {workdir / 'data'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}', secret: launch-tests}}\n"
        f"auth: {{htpasswd: {{realm: launch-tests, path: {workdir / 'htpasswd'}}}}}\n"
    )
    log = (workdir / "registry.log").open("w")
    proc = subprocess.Popen([registry_binary(), "serve", str(config)], stdout=log, stderr=log)
    host = f"127.0.0.1:{port}"
    try:
        wait_for(
            lambda: proc.poll() is None and _answers(f"http://{host}/v2/"), 30, "docker-registry"
        )
        yield Registry(host)
    finally:
        _stop(proc)
        log.close()


LAUNCH_REPO = "xgb-container"
LAUNCH_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{LAUNCH_REPO}:t1"
LAUNCH_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"
SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@contextmanager
def launch_moto(workdir: Path) -> Iterator[Moto]:
    """moto with what a launcher user has: the execution role and a pushed image (tag t1)."""
    import boto3

    with moto_server(workdir) as server:
        kwargs = server.client_kwargs()
        boto3.client("iam", **kwargs).create_role(
            RoleName="SageMakerRole", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST)
        )
        ecr = boto3.client("ecr", **kwargs)
        ecr.create_repository(repositoryName=LAUNCH_REPO)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        }
        ecr.put_image(repositoryName=LAUNCH_REPO, imageManifest=json.dumps(manifest), imageTag="t1")
        yield server
