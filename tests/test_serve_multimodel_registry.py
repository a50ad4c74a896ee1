"""The registry the workers share: a load serves exactly its files, and no state gives a 5xx."""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from multimodel_harness import Endpoint, csv_row
from serve_harness import train_numeric


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    server = Endpoint(tmp_path_factory.mktemp("mme"), workers=2)
    yield server
    assert server.stop() == 0


def test_reload_after_delete_serves_the_new_files_on_every_worker(tmp_path, endpoint):
    """DELETE, new files in the same folder, POST the same name and url: no old answer.

    Repeated, because the defect shows only where one worker misses both the DELETE and
    the POST (each goes to one worker).
    """
    models = [
        train_numeric(tmp_path / kind, kind) for kind in ("binary:logistic", "reg:squarederror")
    ]
    X = models[0][1]
    row, x = csv_row(X), np.nan_to_num(X[:1]).astype(np.float32)
    expected = [booster.inplace_predict(x)[0] for booster, _ in models]
    assert expected[0] != expected[1]
    folder = endpoint.models / "reload" / "model"
    for cycle in range(6):
        kind = ("binary:logistic", "reg:squarederror")[cycle % 2]
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(tmp_path / kind / "model", folder)
        assert endpoint.add("reload", folder).status_code == 200
        endpoint.use_on_every_worker("reload", row)
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: endpoint.invoke("reload", row), range(16)))
        assert [a.status_code for a in answers] == [200] * 16
        got = {np.float32(a.text) for a in answers}
        assert got == {expected[cycle % 2]}, f"cycle {cycle}: {got}"
        assert endpoint.delete("reload").status_code == 200


def test_files_changed_after_the_load_are_refused_not_served(tmp_path, endpoint):
    """A worker that loads lazily checks that it reads the files the POST loaded."""
    old, _ = train_numeric(tmp_path / "old", "binary:logistic")
    _, X = train_numeric(tmp_path / "new", "reg:squarederror")
    row, x = csv_row(X), np.nan_to_num(X[:1]).astype(np.float32)
    folder = endpoint.models / "m" / "model"
    shutil.copytree(tmp_path / "old" / "model", folder)
    assert endpoint.add("m", folder).status_code == 200
    for name in ("xgboost-model", "metadata.json"):
        shutil.copy(tmp_path / "new" / "model" / name, folder / name)
    refused = 0
    deadline = time.monotonic() + 30
    with ThreadPoolExecutor(4) as pool:
        # The POSTing worker keeps what it loaded; the other one must refuse the new files.
        while not refused:
            assert time.monotonic() < deadline, "no worker refused the changed files"
            for answer in pool.map(lambda _: endpoint.invoke("m", row), range(8)):
                if answer.status_code == 200:
                    assert np.float32(answer.text) == old.inplace_predict(x)[0]
                else:
                    assert answer.status_code == 409, answer.text
                    assert "changed since it was loaded" in answer.text
                    refused += 1


def test_partial_registry_entries_never_give_a_5xx(tmp_path, endpoint):
    """An entry that is empty or half written (as a reader can meet one) is no 500."""
    train_numeric(tmp_path / "a", "binary:logistic")
    shutil.copytree(tmp_path / "a" / "model", endpoint.models / "a" / "model")
    for name, content in (("half", '{"modelName": "ha'), ("empty", ""), ("list", "[1]")):
        (endpoint.registry / f"{name}.json").write_text(content)
        for method, path in (
            ("get", f"/models/{name}"),
            ("post", f"/models/{name}/invoke"),
            ("get", "/models"),
            ("delete", f"/models/{name}"),
        ):
            got = requests.request(method, endpoint.url(path), data="1,2,3,4,5", timeout=10)
            assert got.status_code < 500, (method, path, got.status_code, got.text)
    listed = requests.get(endpoint.url("/models"), timeout=10).json()["models"]
    assert not {m["modelName"] for m in listed} & {"half", "empty", "list"}


def test_load_unload_cycles_under_concurrent_readers_never_give_a_5xx(tmp_path, endpoint):
    """POST/DELETE cycles while other clients list, describe and invoke (bounded loops)."""
    _, X = train_numeric(tmp_path / "a", "binary:logistic")
    row = csv_row(X)
    names = ("r0", "r1", "r2")
    for name in names:
        shutil.copytree(tmp_path / "a" / "model", endpoint.models / name / "model")
    failures: list[str] = []
    done = threading.Event()

    def record(got: requests.Response, what: str) -> None:
        if got.status_code >= 500:
            failures.append(f"{what}: {got.status_code} {got.text.strip()}")

    def cycle() -> None:
        try:
            for i in range(60):
                name = names[i % len(names)]
                record(endpoint.add(name, endpoint.models / name / "model"), f"POST {name}")
                record(endpoint.delete(name), f"DELETE {name}")
        finally:
            done.set()

    def read(k: int) -> None:
        i = 0
        while not done.is_set() and i < 2000:
            name = names[(i + k) % len(names)]
            record(requests.get(endpoint.url("/models"), timeout=10), "GET /models")
            record(requests.get(endpoint.url(f"/models/{name}"), timeout=10), f"GET {name}")
            record(endpoint.invoke(name, row), f"invoke {name}")
            i += 1

    threads = [threading.Thread(target=cycle)] + [
        threading.Thread(target=read, args=(k,)) for k in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures[:5]
    assert "Traceback" not in endpoint.server.log
