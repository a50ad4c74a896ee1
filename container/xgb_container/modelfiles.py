"""Reading a model folder safely: regular files inside it only, each with a size bound.

A model folder may come from anywhere (a tarball, a multi-model endpoint's ``url``), so a
file that is a FIFO, a device, a folder, a symlink out of the folder or larger than its bound
is refused with a ``UserError`` naming it, before anything is read. The model file's bound is
``XGB_MAX_MODEL_MB`` (default 1024 MiB); ``metadata.json`` may hold at most 16 MiB.
A multi-model endpoint's urls are confined to its models folder (``confine``).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError
from .paths import METADATA_FILE, MODEL_FILE

MODEL_LIMIT_ENV = "XGB_MAX_MODEL_MB"
DEFAULT_MODEL_LIMIT_MB = 1024.0
METADATA_LIMIT = 16 * 1024 * 1024
LISTED = 10  # folder entries named when the model file is missing
KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


@dataclass(frozen=True)
class ModelFiles:
    """The bytes of a model folder's files and their content identity."""

    model: bytes
    metadata: bytes | None  # None when the folder has no metadata.json

    @property
    def digest(self) -> str:
        """sha256 of both files: equal digests mean the same model was read."""
        meta = "-" if self.metadata is None else hashlib.sha256(self.metadata).hexdigest()
        return f"{hashlib.sha256(self.model).hexdigest()}:{meta}"


def model_limit() -> int:
    """The model file's size bound in bytes, from ``XGB_MAX_MODEL_MB``."""
    raw = os.environ.get(MODEL_LIMIT_ENV, "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_MODEL_LIMIT_MB
    except ValueError:
        raise UserError(f"{MODEL_LIMIT_ENV}={raw!r} is not a number") from None
    if not mb > 0:
        raise UserError(f"{MODEL_LIMIT_ENV}={raw} must be above 0")
    return int(mb * 1024 * 1024)


def read_bounded(path: Path, limit: int, what: str, limit_text: str) -> bytes | None:
    """The bytes of ``path``, a regular file in its own folder of at most ``limit`` bytes.

    ``None`` when it does not exist; a ``UserError`` naming ``what`` and ``path`` otherwise.
    """
    try:
        info = os.stat(path)  # follows a symlink: what would be read
        if not stat.S_ISREG(info.st_mode):
            kind = KINDS.get(stat.S_IFMT(info.st_mode), "not a plain file")
            raise UserError(f"{what} {path} is not a regular file ({kind})")
        if info.st_size > limit:
            raise UserError(f"{what} {path} is larger than {limit_text}")
        real = path.resolve(strict=True)
        if not real.is_relative_to(path.parent.resolve(strict=True)):
            raise UserError(f"{what} {path} is a symlink to a file outside its model folder")
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UserError(f"cannot read {what} {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the check
            raise UserError(f"{what} {path} is not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UserError(f"{what} {path} is larger than {limit_text}")
    return data


def confine(url: str, root: Path) -> Path:
    """``url`` as a folder inside ``root`` once symlinks are resolved; else a ``UserError``."""
    path = Path(url)
    try:
        real = path.resolve()
    except (OSError, RuntimeError, ValueError):  # a NUL byte, a symlink loop
        raise UserError(f"url {url!r} is not a usable path") from None
    if not path.is_absolute() or not real.is_relative_to(root.resolve()) or real == root.resolve():
        raise UserError(f"url {url!r} is outside the models folder {root}")
    return real


def _contents(folder: Path) -> str:
    names = sorted(p.name for p in folder.iterdir())
    if not names:
        return "it is empty"
    more = f" and {len(names) - LISTED} more" if len(names) > LISTED else ""
    return f"it holds {', '.join(names[:LISTED])}{more}"


def read_model_folder(folder: Path, *, list_contents: bool = False) -> ModelFiles:
    """``xgboost-model`` and ``metadata.json`` (optional) of ``folder``, read with bounds.

    ``list_contents`` names (a few of) the folder's entries when the model file is missing:
    only for the configured model folder, never for a path a client chose.
    """
    if not folder.is_dir():
        raise UserError(f"model folder {folder} does not exist")
    limit = model_limit()
    limit_text = f"{MODEL_LIMIT_ENV} ({limit / 1024 / 1024:g} MiB)"
    model = read_bounded(folder / MODEL_FILE, limit, "model file", limit_text)
    if model is None:
        state = f" ({_contents(folder)})" if list_contents else ""
        raise UserError(f"model folder {folder} has no {MODEL_FILE}{state}")
    metadata = read_bounded(folder / METADATA_FILE, METADATA_LIMIT, "model metadata", "16 MiB")
    return ModelFiles(model, metadata)
