"""The Flask app of the hosting contract: ``/ping``, ``/invocations``, ``/execution-parameters``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, NotAcceptable, RequestEntityTooLarge

from . import capture, formats, reasons
from .errors import UserError
from .predictor import OUTPUTS, Model

log = logging.getLogger(__name__)

CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"
EXPLANATIONS = "X-Amzn-SageMaker-Enable-Explanations"
FALSE = frozenset({"", "false", "`false`", "0", "no", "off"})
DRAIN_LIMIT = 128 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """What the app reads from the environment (SageMaker's variable names)."""

    max_payload_mb: float = 6
    workers: int = 1
    batch: bool = False
    output: str | None = None
    registry: str | None = None  # the multi-model endpoint's shared folder, when enabled

    @classmethod
    def from_env(cls, workers: int, registry: str | None = None) -> Settings:
        raw = os.environ.get("SAGEMAKER_MAX_PAYLOAD_IN_MB", "6")
        try:
            max_payload_mb = float(raw)
        except ValueError:
            raise UserError(f"SAGEMAKER_MAX_PAYLOAD_IN_MB={raw!r} is not a number") from None
        if not 0 < max_payload_mb <= 100:
            raise UserError(f"SAGEMAKER_MAX_PAYLOAD_IN_MB={raw} must be above 0 and at most 100")
        return cls(
            max_payload_mb=max_payload_mb,
            workers=workers,
            batch=os.environ.get("SAGEMAKER_BATCH", "").lower() == "true",
            output=os.environ.get("SAGEMAKER_INFERENCE_OUTPUT") or None,
            registry=registry,
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


def _accept(header: str | None, content_type: str) -> str:
    """The response type: the Accept header's best supported type, else like the request."""
    if not header or header.strip() == "*/*":
        media = formats.media_type(content_type)[0]
        return media if media in formats.ACCEPT_TYPES else formats.CSV
    if "," not in header:
        media = formats.media_type(header)[0]
        if media in formats.ACCEPT_TYPES:
            return media
    offered = [*formats.ACCEPT_TYPES, *(a for a, m in formats.ALIASES.items() if "/" in a)]
    best = request.accept_mimetypes.best_match(offered)
    best = formats.ALIASES.get(best, best)
    if best not in formats.ACCEPT_TYPES:
        raise NotAcceptable(
            f"Accept {header!r} is not supported; use one of {', '.join(formats.ACCEPT_TYPES)}"
        )
    return best


def _drain() -> None:
    """Read what is left of a refused body so the client gets the answer, not a reset."""
    stream = request.environ.get("wsgi.input")
    left = DRAIN_LIMIT
    while stream is not None and left > 0 and (chunk := stream.read(min(left, 1 << 16))):
        left -= len(chunk)


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


def answer(served: Served, settings: Settings) -> Response:
    """Predictions for the current request's body, as its headers ask."""
    model = served.model
    body = request.get_data(cache=False)
    content_type = request.headers.get("Content-Type")
    accept = _accept(request.headers.get("Accept"), content_type or formats.CSV)
    raw_attributes = request.headers.get(CUSTOM_ATTRIBUTES)
    attributes = custom_attributes(raw_attributes)
    fields = output_fields(attributes["output"], model) if "output" in attributes else served.fields
    X = formats.decode(body, content_type, served.schema)
    if not len(X):  # a CSV header alone (batch transform's first record): no output line
        return Response(formats.encode({}, fields, 0, accept), mimetype=accept)
    out = model.predict(X, fields)
    explain = request.headers.get(EXPLANATIONS, attributes.get("explain"))
    explanations = None
    if explain is not None and explain.strip().lower() not in FALSE:
        predicted = out["probabilities"].argmax(axis=1) if model.kind == "multiclass" else None
        contributions = model.contributions(X, predicted)
        explanations = formats.explain(contributions, served.schema.feature_names)
    count = reasons.requested(attributes.get(reasons.ATTRIBUTE))
    if count:
        out, fields = reasons.attach(model, served.schema, X, out, fields, count)
    if settings.batch and accept == formats.JSON:
        accept = formats.JSONLINES  # batch transform joins answers line by line
    payload = formats.encode(out, fields, len(X), accept, explanations)
    response = Response(payload, mimetype=accept)
    if raw_attributes is not None:
        response.headers[CUSTOM_ATTRIBUTES] = raw_attributes
    capture.record(
        model.meta, body, content_type, payload, accept, request.headers.get(capture.INFERENCE_ID)
    )
    return response


def create_app(served: Served | None, settings: Settings) -> Flask:
    """The WSGI app serving one model at ``/invocations``, or many (multi-model endpoint)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = int(settings.max_payload_mb * 1024 * 1024)

    @app.get("/ping")
    def ping() -> Response:
        return Response(status=200)

    @app.get("/execution-parameters")
    def execution_parameters() -> dict:
        payload = max(1, int(settings.max_payload_mb))
        return {
            "MaxConcurrentTransforms": max(1, min(settings.workers, 100 // payload)),
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": payload,
        }

    if served is not None:
        app.add_url_rule(
            "/invocations", "invocations", lambda: answer(served, settings), methods=["POST"]
        )
    if settings.registry:
        from .multimodel import add_routes

        add_routes(app, settings)

    @app.errorhandler(formats.UnsupportedType)
    def unsupported(exc: UserError) -> Response:
        return _text(str(exc), 415)

    @app.errorhandler(UserError)
    def bad_request(exc: UserError) -> Response:
        return _text(str(exc), 400)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Response:
        _drain()
        limit = settings.max_payload_mb
        return _text(f"the body is larger than SAGEMAKER_MAX_PAYLOAD_IN_MB ({limit:g} MiB)", 413)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _text(exc.description or exc.name, exc.code or 500)

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        log.exception("internal error on %s", request.path)
        return _text(f"internal error: {type(exc).__name__}", 500)

    return app


def _text(message: str, status: int) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")
