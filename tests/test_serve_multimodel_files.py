"""What a load may read: urls only under the models folder, regular files only, bounded."""

from __future__ import annotations

import os
import shutil

import pytest
from multimodel_harness import Endpoint, csv_row
from serve_harness import run_serve, train_numeric


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained")
    _, X = train_numeric(folder, "binary:logistic")
    return folder / "model", csv_row(X)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    server = Endpoint(tmp_path_factory.mktemp("mme"), workers=2, XGB_MAX_MODEL_MB="0.05")
    pids = {p.pid for p in server.workers()}
    yield server
    assert {p.pid for p in server.workers()} == pids, "a worker was lost"
    assert "Traceback" not in server.server.log
    assert server.stop() == 0


def refused(endpoint: Endpoint, name: str, url, *words: str) -> str:
    got = endpoint.add(name, url)
    assert got.status_code == 400, (got.status_code, got.text)
    for word in words:
        assert word in got.text, got.text
    assert endpoint.delete(name).status_code == 404  # nothing was registered
    return got.text


@pytest.mark.parametrize("url", ["/etc", "/root", "/proc/self", "/", "relative/model"])
def test_urls_outside_the_models_folder_are_refused_without_a_listing(endpoint, url):
    text = refused(endpoint, "outside", url, "outside the models folder")
    for secret in ("passwd", "shadow", "hosts", "environ", "status", "bin"):
        assert secret not in text, text


def test_a_url_escaping_by_dots_or_symlink_is_refused(endpoint, tmp_path):
    refused(endpoint, "dots", f"{endpoint.models}/../../../etc", "outside the models folder")
    (endpoint.models / "link").symlink_to("/etc")
    refused(endpoint, "link", endpoint.models / "link", "outside the models folder")
    (endpoint.models / "base").symlink_to(endpoint.base)
    refused(endpoint, "base", endpoint.models / "base" / "model", "outside the models folder")
    refused(endpoint, "root", endpoint.models, "outside the models folder")
    refused(endpoint, "nul", f"{endpoint.models}/a\x00b", "not a usable path")
    (endpoint.models / "loop").symlink_to(endpoint.models / "loop")
    refused(endpoint, "loop", endpoint.models / "loop" / "model", "does not exist")


def test_a_folder_without_a_model_is_named_but_not_listed(endpoint):
    folder = endpoint.models / "nomodel"
    folder.mkdir()
    (folder / "secret-file-name.txt").write_text("x")
    text = refused(endpoint, "nomodel", folder, "has no xgboost-model")
    assert "secret-file-name" not in text
    refused(endpoint, "nowhere", endpoint.models / "nowhere", "does not exist")


def test_a_model_file_escaping_its_folder_by_symlink_is_refused(endpoint, trained):
    folder = endpoint.models / "escape"
    folder.mkdir()
    (folder / "xgboost-model").symlink_to(trained[0] / "xgboost-model")
    refused(endpoint, "escape", folder, "xgboost-model", "outside")


@pytest.mark.parametrize("name", ["metadata.json", "xgboost-model"])
@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "folder"])
def test_files_that_are_not_regular_are_refused_naming_them(endpoint, trained, name, kind):
    folder = endpoint.models / f"{kind}-{name}"
    shutil.copytree(trained[0], folder)
    (folder / name).unlink()
    if kind == "dev-zero":
        (folder / name).symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(folder / name)
    else:
        (folder / name).mkdir()
    refused(endpoint, "odd", folder, name, "not a regular file")


def test_a_model_file_over_the_bound_is_refused_naming_the_setting(endpoint, trained):
    folder = endpoint.models / "big"
    shutil.copytree(trained[0], folder)
    (folder / "xgboost-model").write_bytes(b"x" * 60_000)  # over this endpoint's 0.05 MiB
    refused(endpoint, "big", folder, "xgboost-model", "XGB_MAX_MODEL_MB")
    small = endpoint.models / "small"
    small.mkdir()
    (small / "xgboost-model").write_bytes(b"{}")
    with (small / "metadata.json").open("wb") as f:
        f.truncate(64 * 1024 * 1024)  # sparse: larger than any metadata.json
    refused(endpoint, "small", small, "metadata.json", "larger than")


def test_the_endpoint_still_serves_after_the_refusals(endpoint, trained):
    folder = endpoint.models / "good"
    shutil.copytree(trained[0], folder)
    assert endpoint.add("good", folder).status_code == 200
    for _ in range(4):
        got = endpoint.invoke("good", trained[1])
        assert got.status_code == 200 and 0 < float(got.text) < 1


def test_single_model_serve_refuses_a_fifo_metadata(tmp_path, trained):
    model = tmp_path / "ml" / "model"
    shutil.copytree(trained[0], model)
    (model / "metadata.json").unlink()
    os.mkfifo(model / "metadata.json")
    done = run_serve(tmp_path / "ml", timeout=60)
    assert done.returncode == 1
    assert "metadata.json" in done.stderr and "not a regular file" in done.stderr


def test_single_model_serve_lists_a_crowded_folder_briefly(tmp_path):
    model = tmp_path / "ml" / "model"
    model.mkdir(parents=True)
    for i in range(40):
        (model / f"part-{i:02d}.bin").write_text("x")
    done = run_serve(tmp_path / "ml", timeout=60)
    assert done.returncode == 1
    (line,) = [line for line in done.stderr.splitlines() if "has no xgboost-model" in line]
    assert "part-00.bin" in line and "part-39.bin" not in line and "30 more" in line
