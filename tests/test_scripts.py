"""The set-up scripts speak a line per step, keep the full output in a log, and show its end on
a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from conftest import ROOT


def bash(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_step_speaks_one_line_and_logs_everything(tmp_path):
    log = tmp_path / "logs" / "setup.log"
    noisy = "for i in $(seq 1 500); do echo progress line $i; done"
    done = bash(
        f"source {ROOT}/scripts/steps.sh && step 'setup: noisy thing' sh -c '{noisy}'",
        tmp_path,
        STEPS_LOG=str(log),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("setup: noisy thing ... done (")
    assert len(done.stderr.splitlines()) == 1
    assert "progress line 500" in log.read_text()


def test_a_failed_step_shows_the_end_of_the_log_and_its_exit_status(tmp_path):
    log = tmp_path / "setup.log"
    failing = "for i in $(seq 1 100); do echo line $i; done; echo the real reason >&2; exit 3"
    done = bash(
        f"source {ROOT}/scripts/steps.sh && step 'setup: failing' sh -c '{failing}'; echo $?",
        tmp_path,
        STEPS_LOG=str(log),
    )
    assert done.stdout.strip() == "3"
    assert f"setup: failing ... FAILED (exit 3); the end of {log}:" in done.stderr
    assert "    the real reason" in done.stderr
    assert "line 100" in done.stderr and "line 1\n" not in done.stderr  # the end, not all


def test_setup_on_a_fresh_checkout_is_quiet_and_names_its_log(tmp_path):
    checkout = tmp_path / "repo"
    shutil.copytree(ROOT / "scripts", checkout / "scripts")
    (checkout / "requirements").mkdir()
    (checkout / "requirements" / "dev.txt").write_text("./no-such-package-folder\n")
    done = bash("scripts/setup.sh", checkout, PIP_NO_INDEX="1")
    log = checkout / ".cache" / "logs" / "setup.log"
    assert done.returncode != 0
    lines = done.stdout.splitlines() + done.stderr.splitlines()
    assert f"setup: full output in {log}" in lines
    assert any(line.startswith("setup: virtual environment .venv (Python 3.") for line in lines)
    assert "setup: Python packages of requirements/dev.txt ... FAILED" in done.stderr
    assert "no-such-package-folder" in done.stderr  # pip's reason, from the log's end
    assert len(lines) < 60
    assert "no-such-package-folder" in log.read_text()
