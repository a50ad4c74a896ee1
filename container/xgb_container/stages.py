"""One invocation in named stages: negotiate -> decode -> predict -> encode.

``/invocations`` (a lean WSGI path, see ``app``) and the multi-model ``invoke`` route (Flask)
run the same stages, so every content type has one code path. The places where other parts
hook in are marked:

- adverse-action reasons: ``predict`` (it has the matrix, the call and the model);
- data capture: ``invoke``, after ``encode`` (it has the raw body, the call and the answer).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from flask import Response, request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from . import capture, formats, reasons
from .errors import UserError
from .predictor import OUTPUTS, Model

log = logging.getLogger(__name__)

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
EXPLANATIONS = "X-Amzn-SageMaker-Enable-Explanations"
FALSE = frozenset({"", "false", "`false`", "0", "no", "off"})
DRAIN_LIMIT = 128 * 1024 * 1024


class TooLarge(UserError):
    """A body or a row count over a limit (HTTP 413)."""


class Unacceptable(UserError):
    """An Accept header no encoder can satisfy (HTTP 406)."""


def status_of(exc: UserError) -> int:
    """The HTTP status of a refused request."""
    if isinstance(exc, formats.UnsupportedType):
        return 415
    if isinstance(exc, Unacceptable):
        return 406
    if isinstance(exc, TooLarge):
        return 413
    return 400


def _env_number(name: str, default: float, cast: type = int, high: float | None = None) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError:
        kind = "number" if cast is float else "whole number"
        raise UserError(f"{name}={raw!r} is not a {kind}") from None
    if not value > 0 or (high is not None and value > high):
        raise UserError(
            f"{name}={raw} must be above 0" + (f" and at most {high:g}" if high else "")
        )
    return value


@dataclass(frozen=True)
class Settings:
    """What serving reads from the environment (SageMaker's variable names, and ours)."""

    max_payload_mb: float = 6
    workers: int = 1
    batch: bool = False
    output: str | None = None
    registry: str | None = None  # the multi-model endpoint's shared folder, when enabled
    max_rows: int = 1_000_000  # SERVE_MAX_ROWS: rows (lines) in one request
    max_explain_rows: int = 1_000  # SERVE_MAX_EXPLAIN_ROWS: rows when explanations are asked

    @property
    def max_payload_bytes(self) -> int:
        return int(self.max_payload_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, workers: int, registry: str | None = None) -> Settings:
        return cls(
            max_payload_mb=_env_number("SAGEMAKER_MAX_PAYLOAD_IN_MB", 6, float, high=100),
            workers=workers,
            batch=os.environ.get("SAGEMAKER_BATCH", "").lower() == "true",
            output=os.environ.get("SAGEMAKER_INFERENCE_OUTPUT") or None,
            registry=registry,
            max_rows=int(_env_number("SERVE_MAX_ROWS", cls.max_rows)),
            max_explain_rows=int(_env_number("SERVE_MAX_EXPLAIN_ROWS", cls.max_explain_rows)),
        )


def output_fields(text: str | None, model: Model) -> tuple[str, ...]:
    """``probability,predicted_label`` as a tuple, checked against what the model can return."""
    allowed = OUTPUTS[model.kind]
    if not text:
        return allowed[:1]
    fields = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = [f for f in fields if f not in allowed]
    if unknown or not fields:
        raise UserError(
            f"output {unknown or text!r} is not available for a {model.kind} model; "
            f"choose from {', '.join(allowed)}"
        )
    return fields


def custom_attributes(text: str | None) -> dict[str, str]:
    """``output=probability,predicted_label;explain=true`` as a dict (unknown keys kept)."""
    pairs = {}
    for part in (text or "").split(";"):
        key, sep, value = part.partition("=")
        if sep:
            pairs[key.strip().lower()] = value.strip()
    return pairs


@dataclass(frozen=True)
class Served:
    """A loaded model with what answering for it needs."""

    model: Model
    schema: formats.Schema
    fields: tuple[str, ...]

    @classmethod
    def load(cls, model_dir: Path, settings: Settings) -> Served:
        model = Model.load(model_dir)
        capture.check(model.meta)  # XGB_CAPTURE_* settings refused at start
        schema = formats.Schema.from_metadata(model.meta)
        return cls(model, schema, output_fields(settings.output, model))


@dataclass
class Call:
    """What one request asks for, read from its headers by ``negotiate``."""

    content_type: str | None
    accept: str
    fields: tuple[str, ...]
    explain: bool
    attributes: dict[str, str] = field(default_factory=dict)
    raw_attributes: str | None = None
    reasons: int = 0  # adverse-action reasons per row (``reasons=K`` in custom attributes)
    inference_id: str | None = None

    @property
    def heavy(self) -> bool:
        """Asks for per-feature work (explanations, reasons): the lower row cap applies."""
        return self.explain or self.reasons > 0


@dataclass
class Prediction:
    """The model's outputs for the rows of one call (``explanations`` when asked)."""

    out: dict[str, np.ndarray]
    rows: int
    fields: tuple[str, ...]
    explanations: list[dict] | None = None


def _accept(header: str | None, content_type: str | None) -> str:
    """The response type: the Accept header's best supported type, else like the request."""
    if not header or header.strip() == "*/*":
        media = formats.media_type(content_type)[0]
        return media if media in formats.ACCEPT_TYPES else formats.CSV
    if "," not in header:
        media = formats.media_type(header)[0]
        if media in formats.ACCEPT_TYPES:
            return media
    offered = [*formats.ACCEPT_TYPES, *(a for a in formats.ALIASES if "/" in a)]
    best = parse_accept_header(header, MIMEAccept).best_match(offered)
    best = formats.ALIASES.get(best, best)
    if best not in formats.ACCEPT_TYPES:
        raise Unacceptable(
            f"Accept {header!r} is not supported; use one of {', '.join(formats.ACCEPT_TYPES)}"
        )
    return best


def negotiate(headers: Mapping[str, str], served: Served, settings: Settings) -> Call:
    """Read the request's headers: content and response types, outputs, explanations."""
    content_type = headers.get("Content-Type") or None
    accept = _accept(headers.get("Accept"), content_type)
    if settings.batch and accept == formats.JSON:
        accept = formats.JSONLINES  # batch transform joins answers line by line
    raw_attributes = headers.get(CUSTOM_ATTRIBUTES)
    attributes = custom_attributes(raw_attributes)
    fields = served.fields
    if "output" in attributes:
        fields = output_fields(attributes["output"], served.model)
    explain = headers.get(EXPLANATIONS, attributes.get("explain"))
    wanted = explain is not None and explain.strip().lower() not in FALSE
    count = reasons.requested(attributes.get(reasons.ATTRIBUTE))
    inference_id = headers.get(capture.INFERENCE_ID)
    return Call(
        content_type, accept, fields, wanted, attributes, raw_attributes, count, inference_id
    )


def read_body(stream, length: int | None, settings: Settings) -> bytes:  # noqa: ANN001
    """The whole body, with or without Content-Length (chunked): over the limit is a 413,
    never a body cut short."""
    limit = settings.max_payload_bytes
    if length is not None and length > limit:
        drain(stream, length)
        raise payload_too_large(settings)
    body = stream.read(length if length is not None else limit + 1)
    if len(body) > limit:
        drain(stream, None)
        raise payload_too_large(settings)
    return body


def payload_too_large(settings: Settings) -> TooLarge:
    return TooLarge(
        f"the body is larger than SAGEMAKER_MAX_PAYLOAD_IN_MB ({settings.max_payload_mb:g} MiB)"
    )


def drain(stream, length: int | None) -> None:  # noqa: ANN001
    """Read what is left of a refused body so the client gets the answer, not a reset."""
    left = min(length if length is not None else DRAIN_LIMIT, DRAIN_LIMIT)
    while stream is not None and left > 0 and (chunk := stream.read(min(left, 1 << 16))):
        left -= len(chunk)


def decode(body: bytes, call: Call, served: Served, settings: Settings) -> np.ndarray:
    """The feature matrix of the body, within the row caps (counted before any parsing)."""
    cap = settings.max_explain_rows if call.heavy else settings.max_rows
    rows = formats.rows_over(body, call.content_type, cap)
    if rows is not None:
        setting = "SERVE_MAX_EXPLAIN_ROWS" if call.heavy else "SERVE_MAX_ROWS"
        what = "rows with explanations or reasons" if call.heavy else "rows"
        raise TooLarge(f"the body holds {rows} rows; at most {cap} {what} per request ({setting})")
    return formats.decode(body, call.content_type, served.schema)


def predict(X: np.ndarray, call: Call, served: Served) -> Prediction:
    """The requested outputs (and explanations) for the rows of ``X``."""
    model = served.model
    out = model.predict(X, call.fields)
    prediction = Prediction(out, len(X), call.fields)
    if call.explain:
        predicted = out["probabilities"].argmax(axis=1) if model.kind == "multiclass" else None
        contributions = model.contributions(X, predicted)
        prediction.explanations = formats.explain(contributions, list(served.schema.feature_names))
    if call.reasons:  # adverse-action reasons (evaluation's reasons module)
        prediction.out, prediction.fields = reasons.attach(
            model, served.schema, X, out, call.fields, call.reasons
        )
    return prediction


def encode(prediction: Prediction, call: Call) -> bytes:
    """The response body in the negotiated type."""
    return formats.encode(
        prediction.out, prediction.fields, prediction.rows, call.accept, prediction.explanations
    )


def invoke(body: bytes, call: Call, served: Served, settings: Settings) -> bytes:
    """decode -> predict -> encode for one negotiated call; the response body."""
    X = decode(body, call, served, settings)
    if not len(X):  # a CSV header alone (batch transform's first record): no output line
        return formats.encode({}, call.fields, 0, call.accept)
    prediction = predict(X, call, served)
    payload = encode(prediction, call)
    meta = served.model.meta  # data capture (monitoring's capture module)
    capture.record(meta, body, call.content_type, payload, call.accept, call.inference_id)
    return payload


def response_headers(call: Call, payload: bytes) -> list[tuple[str, str]]:
    """The answer's headers: its type, length and the echoed custom attributes."""
    headers = [("Content-Type", call.accept), ("Content-Length", str(len(payload)))]
    if call.raw_attributes is not None:
        headers.append((CUSTOM_ATTRIBUTES, call.raw_attributes))
    return headers


def answer(served: Served, settings: Settings) -> Response:
    """The stages for Flask's current request (the multi-model ``invoke`` route)."""
    environ = request.environ
    body = read_body(environ["wsgi.input"], request.content_length, settings)
    call = negotiate(request.headers, served, settings)
    payload = invoke(body, call, served, settings)
    return Response(payload, headers=response_headers(call, payload))
