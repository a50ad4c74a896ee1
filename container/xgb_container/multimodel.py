"""Multi-model endpoints (``SAGEMAKER_MULTI_MODEL=true``): models loaded and unloaded at run time.

``POST /models`` loads a model in the worker that takes it and records the load in the
registry (``registry.py``); every other worker loads its own copy on first use, checks
that it read the same files, and forgets it once the entry is gone or replaced. Urls are
confined to the models folder (``$SAGEMAKER_BASE_DIR/models``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import Conflict, HTTPException, NotFound

from .errors import UserError
from .modelfiles import confine
from .paths import Layout
from .registry import Entry, Loaded, Registry
from .stages import Served, Settings, answer

log = logging.getLogger(__name__)


class InsufficientStorage(HTTPException):
    """507: the contract's answer when a model does not fit in memory."""

    code = 507


def add_routes(app: Flask, settings: Settings) -> None:
    """The multi-model routes of the hosting contract on ``app``."""
    registry = Registry(Path(settings.registry or "."))
    models = Layout.from_env().base / "models"
    loaded = Loaded(registry)

    def load(name: str, url: str) -> Served:
        try:
            return Served.load(confine(url, models), settings)
        except MemoryError:
            raise InsufficientStorage(f"not enough memory to load model {name}") from None

    def served(name: str) -> Served:
        loaded.sweep()
        entry = registry.get(name)
        if entry is None:
            loaded.drop({name})
            raise NotFound(f"model {name} is not loaded")
        found = loaded.get(entry)
        if found is not None:
            return found
        found = load(name, entry.url)
        if found.model.digest != entry.digest:
            raise Conflict(
                f"the files of model {name} changed since it was loaded; "
                "DELETE it and load it again"
            )
        log.info("worker %d loaded model %s (load %s)", os.getpid(), name, entry.generation)
        loaded.put(entry, found)
        return found

    @app.post("/models")
    def add_model() -> Response:
        spec = request.get_json(silent=True)
        if not isinstance(spec, dict) or not isinstance(spec.get("model_name"), str):
            raise UserError('expected {"model_name": "...", "url": "/opt/ml/models/..."}')
        name, url = spec["model_name"], str(spec.get("url", ""))
        if registry.get(name) is not None:
            raise Conflict(f"model {name} is already loaded")
        found = load(name, url)
        entry = Entry.new(name, url, found.model.digest)
        registry.add(entry)
        log.info("worker %d loaded model %s (load %s)", os.getpid(), name, entry.generation)
        loaded.put(entry, found)
        return jsonify(status=f"model {name} loaded")

    @app.get("/models")
    def list_models() -> Response:
        return jsonify(models=[entry.public() for entry in registry.all()])

    @app.get("/models/<name>")
    def describe_model(name: str) -> Response:
        entry = registry.get(name)
        if entry is None:
            raise NotFound(f"model {name} is not loaded")
        return jsonify(entry.public())

    @app.delete("/models/<name>")
    def delete_model(name: str) -> Response:
        if not registry.remove(name):
            raise NotFound(f"model {name} is not loaded")
        loaded.drop({name})
        return jsonify(status=f"model {name} unloaded")

    @app.post("/models/<name>/invoke")
    def invoke(name: str) -> Response:
        return answer(served(name), settings)
