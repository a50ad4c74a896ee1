"""Bad requests over real HTTP: each one a 4xx naming the problem, never a 500."""

from __future__ import annotations

import json

import pytest
import requests
from serve_harness import Server, train_numeric


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("errors") / "ml"
    train_numeric(base, "binary:logistic", n_features=5)
    running = Server(base, base.parent / "serve.log", workers=1)
    yield running.wait_ready()
    assert running.stop() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        ("1,2,3,4,5\n1,2,x,4,5", "text/csv", ["line 2", "column 3", "'x'"]),
        ("1,2,3,4,5\n1,2,3,4", "text/csv", ["line 2", "4 values", "expects 5"]),
        ("1,2,3,4,5,6", "text/csv", ["line 1", "6 values"]),
        ("1,2,3,4,5\n\n1,2,3,4,5", "text/csv", ["line 2", "empty"]),
        ('1,2,"3,4,5', "text/csv", ["line 1"]),
        ("1,2,1e39,4,5", "text/csv", ["column 3", "infinite"]),
        ("", "text/csv", ["no rows"]),
        (b"1,2,\xff,4,5", "text/csv", ["line 1", "UTF-8"]),
        ('{"instances": [[1,2,3,4,5], [1,2]]', "application/json", ["line 1", "column"]),
        ('{"instances": [[1,2,3,4,5], [1,2]]}', "application/json", ["instance 2", "2 values"]),
        ('{"rows": [[1,2,3,4,5]]}', "application/json", ["instances"]),
        ('{"instances": [{"f0": 1, "age": 3}]}', "application/json", ["unknown", "'age'"]),
        ('{"instances": [{"f0": [1]}]}', "application/json", ["column 1", "list"]),
        ('{"instances": []}', "application/json", ["at least one row"]),
        ('[1,2,3,4,5]\n{"f9": 1}', "application/jsonlines", ["line 2", "'f9'"]),
        ("[1,2,3,4,5]\n[1,2,3,4,", "application/jsonlines", ["line 2", "invalid JSON"]),
        ("0 1:2 7:3", "text/libsvm", ["line 1", "index 7"]),
        ("0 1:2\n0 a:b", "text/libsvm", ["line 2", "'a:b'"]),
        (b"PAR1 not parquet", "application/x-parquet", ["Parquet"]),
    ],
)
def test_bad_body_is_400_naming_the_problem(server, body, content_type, words):
    answer = server.invoke(body, content_type)
    assert answer.status_code == 400, answer.text
    for word in words:
        assert word in answer.text


def test_unsupported_content_type_is_415(server):
    answer = server.invoke("1,2,3,4,5", "application/x-recordio-protobuf")
    assert answer.status_code == 415
    assert "text/csv" in answer.text


def test_unsupported_accept_is_406(server):
    answer = server.invoke("1,2,3,4,5", "text/csv", Accept="application/xml")
    assert answer.status_code == 406
    assert "application/jsonlines" in answer.text


def test_unknown_output_is_400(server):
    answer = server.invoke(
        "1,2,3,4,5", "text/csv", **{"X-Amzn-SageMaker-Custom-Attributes": "output=colour"}
    )
    assert answer.status_code == 400
    assert "predicted_label" in answer.text


def test_body_over_6_mib_is_413_and_just_under_is_served(server):
    row = "0.123456,1.5,2.25,3.125,4.0625\n"
    under = row * (6 * 1024 * 1024 // len(row))
    assert len(under) <= 6 * 1024 * 1024
    answer = server.invoke(under, "text/csv")
    assert answer.status_code == 200, answer.text[:200]
    assert len(answer.text.splitlines()) == under.count("\n")
    over = under + row * 100
    answer = server.invoke(over, "text/csv")
    assert answer.status_code == 413
    assert "6 MiB" in answer.text


def test_payload_limit_follows_the_variable(tmp_path):
    base = tmp_path / "ml"
    train_numeric(base, "binary:logistic", n_features=5)
    small = Server(base, tmp_path / "serve.log", workers=1, SAGEMAKER_MAX_PAYLOAD_IN_MB="1")
    small.wait_ready()
    try:
        row = "1,2,3,4,5\n"
        assert small.invoke(row * 100_000, "text/csv").status_code == 200
        assert small.invoke(row * 110_000, "text/csv").status_code == 413
        assert requests.get(small.url("/ping"), timeout=5).status_code == 200
    finally:
        assert small.stop() == 0


def test_wrong_method_and_path(server):
    assert requests.get(server.url("/invocations"), timeout=5).status_code == 405
    assert requests.get(server.url("/nowhere"), timeout=5).status_code == 404


def test_server_still_healthy_after_errors(server):
    answer = server.invoke(json.dumps([[1, 2, 3, 4, 5]]), "application/json")
    assert answer.status_code == 200
    assert "Traceback" not in server.log
