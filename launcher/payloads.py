"""Request bodies from a file of rows: content type by file name, rows split into requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .errors import LaunchError

BY_SUFFIX = {
    ".csv": "text/csv",
    ".json": "application/json",
    ".jsonl": "application/jsonlines",
    ".libsvm": "text/libsvm",
    ".svm": "text/libsvm",
}
MAX_BODY = 6 * 1024 * 1024  # real-time endpoints take at most 6 MB per request


def content_type_for(path: Path, given: str | None) -> str:
    if given:
        return given
    try:
        return BY_SUFFIX[path.suffix.lower()]
    except KeyError:
        raise LaunchError(
            f"cannot tell the content type of {path.name}; pass --content-type"
        ) from None


def bodies(path: Path, content_type: str, rows_per_request: int) -> Iterator[bytes]:
    """The whole file, or line-based chunks of ``rows_per_request`` rows (0: as few as fit).

    A ``header=present`` CSV keeps its header line at the top of every chunk. A JSON
    document is sent whole: it is not split.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LaunchError(f"cannot read {path}: {exc.strerror}") from None
    if not raw.strip():
        raise LaunchError(f"{path} holds no rows")
    if content_type.split(";")[0].strip() == "application/json":
        if len(raw) > MAX_BODY:
            raise LaunchError(f"{path} is over 6 MB; use JSON lines or CSV to split it")
        yield raw
        return
    lines = [line for line in raw.splitlines(keepends=True) if line.strip()]
    header = lines.pop(0) if "header=present" in content_type.replace(" ", "") else b""
    chunk: list[bytes] = []
    size = len(header)
    for line in lines:
        full = rows_per_request and len(chunk) >= rows_per_request
        if chunk and (full or size + len(line) > MAX_BODY):
            yield header + b"".join(chunk)
            chunk, size = [], len(header)
        chunk.append(line if line.endswith(b"\n") else line + b"\n")
        size += len(line)
    if chunk:
        yield header + b"".join(chunk)
