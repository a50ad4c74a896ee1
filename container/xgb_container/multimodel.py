"""Multi-model endpoints (``SAGEMAKER_MULTI_MODEL=true``): models loaded and unloaded at run time.

gunicorn workers share no memory, so the list of loaded models lives in a folder that every
worker reads (one JSON file per model, created by the master). ``POST /models`` adds a
file, ``DELETE`` removes it; each worker loads a model's Booster on its first use and drops
it once the file is gone.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import Conflict, HTTPException, NotFound

from .errors import UserError
from .stages import Served, Settings, answer

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class InsufficientStorage(HTTPException):
    """507: the contract's answer when a model does not fit in memory."""

    code = 507


class Registry:
    """The shared folder: ``<name>.json`` holds ``{"modelName": ..., "modelUrl": ...}``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, name: str) -> Path:
        if not NAME.fullmatch(name):
            raise UserError(f"model name {name!r} must be letters, digits, '.', '_' or '-'")
        return self.folder / f"{name}.json"

    def get(self, name: str) -> dict | None:
        try:
            return json.loads(self._path(name).read_text())
        except FileNotFoundError:
            return None

    def add(self, name: str, url: str) -> None:
        """Record a model; ``Conflict`` (409) when the name is taken."""
        try:
            fd = os.open(self._path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise Conflict(f"model {name} is already loaded") from None
        with os.fdopen(fd, "w") as f:
            json.dump({"modelName": name, "modelUrl": url}, f)

    def remove(self, name: str) -> bool:
        try:
            self._path(name).unlink()
        except FileNotFoundError:
            return False
        return True

    def all(self) -> list[dict]:
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                found.append(json.loads(path.read_text()))
            except (FileNotFoundError, ValueError):
                continue  # removed or being written at this moment
        return found


def add_routes(app: Flask, settings: Settings) -> None:
    """The multi-model routes of the hosting contract on ``app``."""
    registry = Registry(Path(settings.registry or "."))
    cache: dict[str, tuple[str, Served]] = {}
    lock = threading.Lock()

    def load(name: str, url: str) -> Served:
        try:
            served = Served.load(Path(url), settings)
        except MemoryError:
            raise InsufficientStorage(f"not enough memory to load model {name}") from None
        with lock:
            cache[name] = (url, served)
        return served

    def served(name: str) -> Served:
        entry = registry.get(name)
        if entry is None:
            with lock:
                cache.pop(name, None)
            raise NotFound(f"model {name} is not loaded")
        cached = cache.get(name)
        if cached is not None and cached[0] == entry["modelUrl"]:
            return cached[1]
        return load(name, entry["modelUrl"])

    @app.post("/models")
    def add_model() -> Response:
        spec = request.get_json(silent=True)
        if not isinstance(spec, dict) or not isinstance(spec.get("model_name"), str):
            raise UserError('expected {"model_name": "...", "url": "/opt/ml/models/..."}')
        name, url = spec["model_name"], str(spec.get("url", ""))
        if registry.get(name) is not None:
            raise Conflict(f"model {name} is already loaded")
        load(name, url)
        registry.add(name, url)
        return jsonify(status=f"model {name} loaded")

    @app.get("/models")
    def list_models() -> Response:
        return jsonify(models=registry.all())

    @app.get("/models/<name>")
    def describe_model(name: str) -> Response:
        entry = registry.get(name)
        if entry is None:
            raise NotFound(f"model {name} is not loaded")
        return jsonify(entry)

    @app.delete("/models/<name>")
    def delete_model(name: str) -> Response:
        if not registry.remove(name):
            raise NotFound(f"model {name} is not loaded")
        with lock:
            cache.pop(name, None)
        return jsonify(status=f"model {name} unloaded")

    @app.post("/models/<name>/invoke")
    def invoke(name: str) -> Response:
        return answer(served(name), settings)
