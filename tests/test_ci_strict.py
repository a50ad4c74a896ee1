"""CI cannot go green by skipping, and one slow ``docker version`` is not a missing engine."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import conftest
import pytest

pytest_plugins = ("pytester",)

SKIPPING = """
import pytest

@pytest.mark.docker
def test_needs_an_engine():
    pytest.skip("no Docker engine here")

@pytest.mark.root
@pytest.mark.skipif(True, reason="needs root")
def test_needs_root():
    pass

def test_plain_skip():
    pytest.skip("an ordinary skip")
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(Path(conftest.__file__).read_text())
    pytester.makepyfile(test_skipping=SKIPPING)
    pytester.makeini("[pytest]\nmarkers =\n    docker: d\n    root: r\n")
    return pytester


def test_under_ci_a_skipped_docker_or_root_test_fails(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest_subprocess("-rA")
    result.assert_outcomes(failed=1, errors=1, skipped=1)  # skipif skips in setup: an error
    result.stdout.fnmatch_lines(
        ["*CI=true: this docker test must run in CI, but it was skipped: *no Docker engine here*"]
    )
    result.stdout.fnmatch_lines(["*CI=true: this root test must run in CI*needs root*"])
    assert result.ret != 0


def test_outside_ci_they_skip_saying_why(suite, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = suite.runpytest_subprocess("-rA")
    result.assert_outcomes(skipped=3)
    assert result.ret == 0


def fake_docker(folder: Path, script: str) -> Path:
    """A ``docker`` CLI on PATH that runs ``script`` (sh), counting its calls in ``calls``."""
    folder.mkdir(exist_ok=True)
    path = folder / "docker"
    path.write_text(
        f'#!/bin/sh\necho x >> "{folder}/calls"\nn=$(wc -l < "{folder}/calls")\n{script}\n'
    )
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return folder


@pytest.fixture
def engine(monkeypatch, tmp_path):
    """``engine_missing`` uncached, with a short attempt timeout, on a fake CLI."""

    def check(script: str, ci: bool) -> tuple[str | None, int]:
        folder = fake_docker(tmp_path / "bin", script)
        monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("CI", "true" if ci else "false")
        monkeypatch.setattr(conftest, "ATTEMPT_S", 1.0)
        monkeypatch.setattr(conftest, "ENGINE_DEADLINE_S", 30)
        conftest.engine_missing.cache_clear()
        try:
            reason = conftest.engine_missing()
        finally:
            conftest.engine_missing.cache_clear()
        return reason, len((folder / "calls").read_text().splitlines())

    return check


SLOW_THEN_ANSWERS = 'if [ "$n" -le 2 ]; then exec sleep 30; fi\necho 28.2.2'
REFUSES_THEN_ANSWERS = 'if [ "$n" -le 2 ]; then echo "Cannot connect" >&2; exit 1; fi\necho 28.2.2'


@pytest.mark.parametrize("ci", [True, False])
def test_a_slow_answer_is_asked_again(engine, ci):
    assert engine(SLOW_THEN_ANSWERS, ci) == (None, 3)


def test_in_ci_a_refusing_engine_is_asked_again_until_it_answers(engine):
    assert engine(REFUSES_THEN_ANSWERS, ci=True) == (None, 3)


def test_outside_ci_a_refusing_engine_is_final_at_once(engine):
    reason, calls = engine(REFUSES_THEN_ANSWERS, ci=False)
    assert calls == 1 and "Cannot connect" in reason
