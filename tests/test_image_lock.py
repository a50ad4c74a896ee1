"""The image's lock files hold every dependency of the package, at the versions the tests use."""

from __future__ import annotations

import re
import tomllib

import pytest
from conftest import ROOT

REQUIREMENTS = ROOT / "requirements"


def pins(path) -> dict[str, str]:
    """``name==version`` lines of a requirements file, by normalised name."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


@pytest.mark.parametrize("variant", ["cpu", "gpu"])
def test_lock_covers_the_package_at_the_tested_versions(variant: str) -> None:
    lock = pins(REQUIREMENTS / f"image-{variant}.txt")
    dev = pins(REQUIREMENTS / "dev.txt")
    project = tomllib.loads((ROOT / "container" / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; ]", requirement)[0]).lower()
        assert name in lock, f"{name} is missing from image-{variant}.txt: run lock_image.sh"
    different = {n: (v, dev[n]) for n, v in lock.items() if n in dev and dev[n] != v}
    assert not different, f"image-{variant}.txt differs from dev.txt: {different}"
    xgboost = "xgboost-cpu" if variant == "cpu" else "xgboost"
    assert lock[xgboost] == dev["xgboost-cpu"]
    assert not any(n.startswith("nvidia-nccl") for n in lock), "NCCL is for multi-GPU only"
