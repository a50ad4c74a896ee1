"""Thousands of random requests at a running server: never a 5xx, never a dead worker."""

from __future__ import annotations

import json

import psutil
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_harness import Server, train_numeric
from xgb_container.metadata import ModelMetadata

CONTENT_TYPES = [
    "text/csv",
    "text/csv; header=present",
    "text/csv; header=absent",
    "application/json",
    "application/jsonlines",
    "text/libsvm",
    "application/x-parquet",
    "text/plain",
    "",
]
ACCEPTS = ["text/csv", "application/json", "application/jsonlines", "*/*", "", "text/html"]
ATTRIBUTES = [
    "",
    "explain=true",
    "output=predicted_label,probability,probabilities,labels,raw_score;explain=true",
    "output=",
    "output=probability,,nonsense",
]
FUZZ = settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40).map(
    str.strip
)
cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.sampled_from(["", "nan", "NA", "yes", "own", "none", '"a,b"', "1e39", "-", "..."]),
    st.text(max_size=8),
)
csv_body = st.lists(st.lists(cell, min_size=0, max_size=24), min_size=0, max_size=6).map(
    lambda rows: "\n".join(",".join(r) for r in rows)
)
json_value = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=22)
        | st.dictionaries(st.sampled_from(["f0", "f1", "age_in_years", "purpose", "x"]), children)
    ),
    max_leaves=60,
)
json_body = st.one_of(
    json_value.map(json.dumps),
    st.lists(json_value, max_size=4).map(lambda v: json.dumps({"instances": v})),
    st.lists(json_value, max_size=4).map(lambda v: "\n".join(json.dumps(x) for x in v)),
)
libsvm_body = st.lists(
    st.lists(
        st.tuples(st.integers(-3, 30), st.floats(allow_nan=True)).map(lambda p: f"{p[0]}:{p[1]}"),
        max_size=6,
    ).map(lambda entries: "1 " + " ".join(entries)),
    max_size=5,
).map("\n".join)
body = st.one_of(
    st.binary(max_size=300),
    csv_body.map(str.encode),
    json_body.map(str.encode),
    libsvm_body.map(str.encode),
)


def near_valid(meta: ModelMetadata) -> st.SearchStrategy[tuple[bytes, str]]:
    """Bodies close to what the model reads: right width (mostly), real category names."""
    categories = sorted({c for values in meta.categories.values() for c in values})
    value = st.one_of(
        st.floats(width=32) | st.floats(),
        st.integers(-(10**40), 10**40),
        st.sampled_from(categories or ["x"]),
        st.sampled_from(["", "nan", "inf", "-inf", "1e39", "NA", None]),
    )
    width = st.sampled_from(
        [meta.num_features] * 8 + [meta.num_features - 1, meta.num_features + 1]
    )
    rows = width.flatmap(
        lambda n: st.lists(st.lists(value, min_size=n, max_size=n), min_size=1, max_size=5)
    )
    named = st.lists(
        st.dictionaries(st.sampled_from([*meta.feature_names, "unknown"]), value),
        min_size=1,
        max_size=4,
    )

    def as_csv(r: list[list]) -> tuple[bytes, str]:
        text = "\n".join(",".join("" if v is None else str(v) for v in row) for row in r)
        return text.encode(), "text/csv"

    return st.one_of(
        rows.map(as_csv),
        rows.map(lambda r: (json.dumps({"instances": r}).encode(), "application/json")),
        named.map(lambda r: (json.dumps(r).encode(), "application/json")),
        named.map(lambda r: ("\n".join(map(json.dumps, r)).encode(), "application/jsonlines")),
    )


@pytest.fixture(scope="module", params=["german", "numeric"])
def server(request, german_model, tmp_path_factory):
    if request.param == "german":
        base = german_model.parent
    else:
        base = tmp_path_factory.mktemp("fuzz") / "ml"
        train_numeric(base, "multi:softprob", num_class=3, n_features=20)
    running = Server(base, tmp_path_factory.mktemp("log") / "serve.log", workers=2)
    running.wait_ready()
    running.meta = ModelMetadata.load(base / "model" / "metadata.json")
    workers = {p.pid for p in psutil.Process(running.proc.pid).children()}
    try:
        yield running
        assert requests.get(running.url("/ping"), timeout=5).status_code == 200
        assert {p.pid for p in psutil.Process(running.proc.pid).children()} == workers
        assert "Traceback" not in running.log
    finally:
        assert running.stop() == 0


def check(server: Server, data: bytes, headers: dict[str, str]) -> None:
    answer = requests.post(server.url("/invocations"), data=data, headers=headers, timeout=30)
    assert answer.status_code in (200, 400, 406, 413, 415), answer.text
    assert answer.status_code == 200 or answer.text.strip()


@FUZZ
@given(
    data=body,
    content_type=st.sampled_from(CONTENT_TYPES) | header_text,
    accept=st.sampled_from(ACCEPTS) | header_text,
    attributes=st.sampled_from(ATTRIBUTES) | header_text,
)
def test_random_requests_never_fail_the_server(server, data, content_type, accept, attributes):
    headers = {
        "Content-Type": content_type,
        "Accept": accept,
        "X-Amzn-SageMaker-Custom-Attributes": attributes,
    }
    check(server, data, headers)


@FUZZ
@given(draw=st.data(), accept=st.sampled_from(ACCEPTS), attributes=st.sampled_from(ATTRIBUTES))
def test_nearly_valid_requests_never_fail_the_server(server, draw, accept, attributes):
    data, content_type = draw.draw(near_valid(server.meta))
    headers = {
        "Content-Type": content_type,
        "Accept": accept,
        "X-Amzn-SageMaker-Custom-Attributes": attributes,
    }
    check(server, data, headers)
