"""Multi-model endpoints (``SAGEMAKER_MULTI_MODEL=true``): models loaded and unloaded at run time.

``POST /models`` loads a model in the worker that takes it and records the load in the
registry (``registry.py``); every other worker loads its own copy on first use, checks
that it read the same files, and forgets it once the entry is gone or replaced. Urls are
confined to the models folder (``$SAGEMAKER_BASE_DIR/models``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
from pathlib import Path

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import Conflict, HTTPException, NotFound

from .app import Served, Settings, answer
from .errors import UserError
from .paths import Layout
from .registry import Entry, Registry

log = logging.getLogger(__name__)

SETTLE_NS = 2_000_000_000  # longer than any file system's timestamp granularity


class InsufficientStorage(HTTPException):
    """507: the contract's answer when a model does not fit in memory."""

    code = 507


def confine(url: str, root: Path) -> Path:
    """``url`` as a folder inside ``root`` once symlinks are resolved; else a ``UserError``."""
    path = Path(url)
    real = path.resolve()
    if not path.is_absolute() or not real.is_relative_to(root.resolve()) or real == root.resolve():
        raise UserError(f"url {url!r} is outside the models folder {root}")
    return real


_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None)


def _trim() -> None:
    """Hand freed heap back to the system: glibc keeps it in its arenas otherwise.

    Measured over 600 loads and unloads: each worker grew 2.1 MiB without, 0.4 to 1.4 with.
    """
    trim = getattr(_LIBC, "malloc_trim", None)  # glibc only
    if trim is not None:
        trim(0)


class Loaded:
    """This worker's Boosters, by name, each valid only for the load (generation) it served."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._served: dict[str, tuple[str, Served]] = {}
        self._lock = threading.Lock()
        self._stamp: int | None = None

    def get(self, entry: Entry) -> Served | None:
        found = self._served.get(entry.name)
        return found[1] if found is not None and found[0] == entry.generation else None

    def put(self, entry: Entry, served: Served) -> None:
        with self._lock:
            replaced = self._served.pop(entry.name, None)
            self._served[entry.name] = (entry.generation, served)
        if replaced is not None:
            replaced = None  # the last reference: the Booster is freed here
            _trim()

    def drop(self, names: set[str]) -> None:
        with self._lock:
            dropped = [self._served.pop(name) for name in names if name in self._served]
        if dropped:
            dropped.clear()  # the last references: the Boosters are freed here
            _trim()

    def sweep(self) -> None:
        """Forget models whose entry is gone, looking only when the registry has changed.

        The folder's mtime changes with every entry added or removed, but two changes within
        one timestamp tick share it: a stamp is trusted only once it is ``SETTLE_NS`` old.
        """
        if not self._served:
            return
        stamp = self.registry.stamp()
        if stamp == self._stamp and time.time_ns() - stamp > SETTLE_NS:
            return
        self._stamp = stamp
        self.drop(set(self._served) - self.registry.names())


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
