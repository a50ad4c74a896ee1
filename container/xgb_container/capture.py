"""Data capture without SageMaker: the server writes SageMaker's capture format itself.

Switched on by ``XGB_CAPTURE_DIR`` (the folder); ``XGB_CAPTURE_PERCENT`` samples (0-100,
default 100). Files rotate hourly as SageMaker lays them out,
``DIR/ENDPOINT/VARIANT/yyyy/mm/dd/hh/<host>-<pid>.jsonl`` (``XGB_CAPTURE_ENDPOINT``, default
``local-endpoint``; variant ``AllTraffic``), one file per worker process.

Every line is written with a single ``write`` on a descriptor opened ``O_APPEND``: a kill
at any moment leaves whole lines only, and a restarted server appends new files beside the
old ones. ``XGB_CAPTURE_MASK`` lists sensitive columns (feature names) whose values are
hashed (``XGB_CAPTURE_MASK_MODE=hash``, SHA-256 with ``XGB_CAPTURE_MASK_SALT``) or dropped
(``drop``) before anything is written; a body that cannot be masked is not captured.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import formats
from .errors import UserError
from .metadata import ModelMetadata

log = logging.getLogger(__name__)

TEXT = {"text/csv": "CSV", "application/json": "JSON", "application/jsonlines": "JSON"}


@dataclass
class Writer:
    """Appends capture lines for one process."""

    folder: Path
    percent: float = 100.0
    endpoint: str = "local-endpoint"
    masked: tuple[str, ...] = ()
    mode: str = "hash"
    salt: str = ""
    _files: dict[str, int] = field(default_factory=dict)
    _name: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}.jsonl")

    @classmethod
    def from_env(cls) -> Writer | None:
        folder = os.environ.get("XGB_CAPTURE_DIR", "").strip()
        if not folder:
            return None
        raw = os.environ.get("XGB_CAPTURE_PERCENT", "100")
        try:
            percent = float(raw)
        except ValueError:
            raise UserError(f"XGB_CAPTURE_PERCENT={raw!r} is not a number") from None
        if not 0 <= percent <= 100:
            raise UserError(f"XGB_CAPTURE_PERCENT={raw} must be 0 to 100")
        mode = os.environ.get("XGB_CAPTURE_MASK_MODE", "hash").strip().lower()
        if mode not in ("hash", "drop"):
            raise UserError(f"XGB_CAPTURE_MASK_MODE={mode!r}: use hash or drop")
        masked = os.environ.get("XGB_CAPTURE_MASK", "")
        return cls(
            Path(folder),
            percent,
            os.environ.get("XGB_CAPTURE_ENDPOINT", "local-endpoint").strip() or "local-endpoint",
            tuple(c.strip() for c in masked.split(",") if c.strip()),
            mode,
            os.environ.get("XGB_CAPTURE_MASK_SALT", ""),
        )

    def check(self, meta: ModelMetadata) -> None:
        """Refuse masked columns the model does not have (a typo would leak the real one)."""
        unknown = [c for c in self.masked if c not in meta.feature_names]
        if unknown:
            raise UserError(f"XGB_CAPTURE_MASK names {unknown}, which are not model features")

    def _fd(self, when: datetime) -> int:
        hour = when.strftime("%Y/%m/%d/%H")
        fd = self._files.get(hour)
        if fd is None:
            for old in self._files.values():
                os.close(old)
            self._files.clear()
            folder = self.folder / self.endpoint / "AllTraffic" / hour
            folder.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            fd = self._files[hour] = os.open(folder / self._name, flags, 0o644)
        return fd

    def write(
        self,
        meta: ModelMetadata,
        body: bytes,
        content_type: str | None,
        answer: bytes,
        accept: str,
        inference_id: str | None = None,
    ) -> bool:
        """Capture one invocation (when sampled); whether a line was written."""
        if self.percent < 100 and random.random() * 100 >= self.percent:
            return False
        content_type = content_type or "text/csv"
        if self.masked:
            try:
                schema = formats.Schema.from_metadata(meta)
                body = formats.masking.mask(
                    body, content_type, schema, self.masked, self.mode, self.salt
                )
            except UserError as exc:
                log.warning("not captured: %s", exc)
                return False
        when = datetime.now(UTC)
        metadata = {
            "eventId": str(uuid.uuid4()),
            "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        if inference_id:
            metadata["inferenceId"] = inference_id
        line = {
            "captureData": {
                "endpointInput": _part(content_type, "INPUT", body),
                "endpointOutput": _part(accept, "OUTPUT", answer),
            },
            "eventMetadata": metadata,
            "eventVersion": "0",
        }
        data = (json.dumps(line, separators=(",", ":")) + "\n").encode("utf-8")
        os.write(self._fd(when), data)  # one write, O_APPEND: whole lines only
        return True


def _part(content_type: str, mode: str, payload: bytes) -> dict[str, str]:
    encoding = TEXT.get(content_type.split(";")[0].strip().lower())
    if encoding:
        try:
            data = payload.decode("utf-8")
        except UnicodeDecodeError:
            encoding = None
    if not encoding:
        encoding, data = "BASE64", base64.b64encode(payload).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


_writer: Writer | None = None
_loaded = False


def writer() -> Writer | None:
    """This process's writer (made on first use, after the fork), ``None`` when off."""
    global _writer, _loaded
    if not _loaded:
        _writer, _loaded = Writer.from_env(), True
    return _writer


def record(meta, body: bytes, content_type, answer: bytes, accept: str, inference_id=None) -> None:
    """The serving hook: capture one answered invocation when capture is on."""
    w = writer()
    if w is not None:
        try:
            w.write(meta, body, content_type, answer, accept, inference_id)
        except OSError as exc:  # a full disk must not fail the request
            log.warning("capture not written: %s", exc)


INFERENCE_ID = "X-Amzn-SageMaker-Inference-Id"


def check(meta: ModelMetadata) -> None:
    """Refuse bad capture settings at start (``UserError``); nothing is cached pre-fork."""
    w = Writer.from_env()
    if w is not None:
        w.check(meta)
