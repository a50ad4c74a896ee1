"""The WSGI app of the hosting contract: ``/ping``, ``/invocations``, ``/execution-parameters``
(and the multi-model routes when enabled).

``POST /invocations`` is answered by a lean WSGI path that runs the request stages directly;
Flask serves every other route (and the errors), where its routing is worth its cost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from http import HTTPStatus

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import stages
from .errors import UserError
from .stages import Served, Settings

log = logging.getLogger(__name__)

__all__ = ["Invocations", "Served", "Settings", "create_app"]


def _status_line(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


class Headers(Mapping[str, str]):
    """A request's headers read straight from the WSGI environ, by the names ``negotiate``
    asks for (werkzeug's ``EnvironHeaders`` costs several microseconds a request)."""

    __slots__ = ("environ",)
    KEYS = {"Content-Type": "CONTENT_TYPE", "Content-Length": "CONTENT_LENGTH"}

    def __init__(self, environ: dict) -> None:
        self.environ = environ

    @classmethod
    def key(cls, name: str) -> str:
        key = cls.KEYS.get(name)
        if key is None:
            key = cls.KEYS[name] = "HTTP_" + name.upper().replace("-", "_")
        return key

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return self.environ.get(self.KEYS.get(name) or self.key(name), default)

    def __getitem__(self, name: str) -> str:
        return self.environ[self.key(name)]

    def __iter__(self) -> Iterator[str]:
        for key in self.environ:
            if key.startswith("HTTP_"):
                yield key[5:].replace("_", "-").title()
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                yield key.replace("_", "-").title()

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Invocations:
    """WSGI: ``POST /invocations`` through the stages, anything else to ``fallback`` (Flask)."""

    def __init__(self, fallback: Flask, served: Served | None, settings: Settings) -> None:
        self.fallback = fallback
        self.served = served
        self.settings = settings

    def __call__(self, environ: dict, start_response):  # noqa: ANN204 - WSGI
        served = self.served
        if (
            served is None
            or environ.get("PATH_INFO") != "/invocations"
            or environ.get("REQUEST_METHOD") != "POST"
        ):
            return self.fallback(environ, start_response)
        try:
            length = environ.get("CONTENT_LENGTH")
            body = stages.read_body(
                environ["wsgi.input"], int(length) if length else None, self.settings
            )
            call = stages.negotiate(Headers(environ), served, self.settings)
            payload = stages.invoke(body, call, served, self.settings)
        except UserError as exc:
            return _plain(start_response, stages.status_of(exc), str(exc))
        except Exception as exc:  # noqa: BLE001 - one line to the client, the trace to the log
            log.exception("internal error on /invocations")
            return _plain(start_response, 500, f"internal error: {type(exc).__name__}")
        start_response("200 OK", stages.response_headers(call, payload))
        return [payload]


def _plain(start_response, status: int, message: str) -> list[bytes]:  # noqa: ANN001
    data = (message + "\n").encode()
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    start_response(_status_line(status), headers)
    return [data]


def create_app(served: Served | None, settings: Settings) -> Invocations:
    """The WSGI app serving one model at ``/invocations``, or many (multi-model endpoint)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_payload_bytes

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

    if served is not None:  # POST is answered by Invocations; Flask answers other methods
        app.add_url_rule(
            "/invocations", "invocations", lambda: stages.answer(served, settings), methods=["POST"]
        )
    if settings.registry:
        from .multimodel import add_routes

        add_routes(app, settings)

    @app.errorhandler(UserError)
    def refused(exc: UserError) -> Response:
        return _text(str(exc), stages.status_of(exc))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Response:
        stages.drain(request.environ.get("wsgi.input"), request.content_length)
        return _text(str(stages.payload_too_large(settings)), 413)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _text(exc.description or exc.name, exc.code or 500)

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        log.exception("internal error on %s", request.path)
        return _text(f"internal error: {type(exc).__name__}", 500)

    return Invocations(app, served, settings)


def _text(message: str, status: int) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain")
