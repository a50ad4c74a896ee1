"""Fixtures of the in-process launcher tests: moto, the tool, and AWS answers moto cannot give."""

from __future__ import annotations

import os
import sys

import boto3
import pytest
from emulators import ROOT_DIR, launch_moto

sys.path.insert(0, str(ROOT_DIR))
import sagemaker_launch  # noqa: E402


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    with launch_moto(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def tool(moto, monkeypatch, capsys):
    """Run the launcher in this process against moto: (exit status, stdout, stderr)."""
    for key in [k for k in list(os.environ) if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in moto.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = sagemaker_launch.main([*argv, "--poll", "0.05"])
        out, err = capsys.readouterr()
        return status, out, err

    return run


class Answer:
    """The HTTP side of an error answer given through botocore's before-call event."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""
        self.text = ""
        self.raw = None


@pytest.fixture
def refuse(monkeypatch):
    """``refuse("DeleteEndpoint", code, message)``: AWS answers that operation with an error."""
    original = boto3.session.Session.client

    def install(operation: str, code: str, message: str, status: int = 400) -> None:
        def client(self, *args, **kwargs):
            made = original(self, *args, **kwargs)

            def answer(model, **_):
                if model.name != operation:
                    return None
                error = {"Error": {"Code": code, "Message": message}}
                return Answer(status), {**error, "ResponseMetadata": {"HTTPStatusCode": status}}

            made.meta.events.register("before-call", answer)
            return made

        monkeypatch.setattr(boto3.session.Session, "client", client)

    return install


@pytest.fixture
def script(monkeypatch):
    """``script("UpdateEndpoint", [answer, ...])``: AWS answers that operation, in turn, with
    these parsed answers (the last one repeats; a callable is called for its answer); for the
    APIs moto does not have."""
    original = boto3.session.Session.client
    scripts: dict[str, list[dict]] = {}

    def client(self, *args, **kwargs):
        made = original(self, *args, **kwargs)

        def answer(model, **_):
            queue = scripts.get(model.name)
            if not queue:
                return None
            parsed = queue.pop(0) if len(queue) > 1 else queue[0]
            parsed = parsed() if callable(parsed) else parsed
            return Answer(200), {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}

        made.meta.events.register("before-call", answer)
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)

    def install(operation: str, answers: list[dict]) -> None:
        scripts[operation] = list(answers)

    return install
