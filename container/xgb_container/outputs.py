"""Writing outputs atomically: a reader never sees a half-written file."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Let ``write`` fill a hidden temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def remove_partials(folder: Path) -> None:
    """Delete temporary files that a killed earlier run left behind."""
    if folder.is_dir():
        for leftover in folder.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)


def write_failure(failure_file: Path, program: str, reason: str, details: str = "") -> None:
    """Record why ``program`` failed in ``output/failure``: the reason first, one line, then
    any details; the reason also goes to stderr."""
    failure_file.parent.mkdir(parents=True, exist_ok=True)
    text = reason.replace("\n", " ") + ("\n\n" + details if details else "") + "\n"
    write_text_atomic(failure_file, text)
    print(f"{program} failed: {reason}", file=sys.stderr, flush=True)
