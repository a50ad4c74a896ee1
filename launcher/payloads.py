"""Request bodies from a file of rows: content type by file name, whole lines per request."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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


def has_header(content_type: str) -> bool:
    return "header=present" in content_type.replace(" ", "").lower()


def line_chunks(
    lines: Iterable[bytes],
    limit: int,
    *,
    rows: int = 0,
    header: bool = False,
    repeat_header: bool = True,
    name: str = "the input",
) -> Iterator[bytes]:
    """Whole lines in chunks of at most ``limit`` bytes (and ``rows`` rows, when not 0).

    With ``header`` the first line is a header: it heads every chunk (``repeat_header``, as
    independent real-time requests need) or only the first (as SageMaker's batch transform
    cuts a file). Blank lines are dropped; every line ends with a newline.
    """
    top, chunk, size, seen_header = b"", [], 0, False
    for line in lines:
        if not line.strip():
            continue
        line = line if line.endswith(b"\n") else line + b"\n"
        if header and not seen_header:
            top, size, seen_header = line, len(line), True
            continue
        if len(top) + len(line) > limit:
            raise LaunchError(f"a line of {name} is larger than the {limit}-byte request limit")
        full = rows and len(chunk) >= rows
        if chunk and (full or size + len(line) > limit):
            yield top + b"".join(chunk)
            if not repeat_header:
                top = b""
            chunk, size = [], len(top)
        chunk.append(line)
        size += len(line)
    if chunk:
        yield top + b"".join(chunk)


def bodies(path: Path, content_type: str, rows_per_request: int) -> Iterator[bytes]:
    """Request bodies for a real-time endpoint: a JSON document whole, else line chunks.

    A ``header=present`` CSV keeps its header line at the top of every request.
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
    yield from line_chunks(
        raw.splitlines(keepends=True),
        MAX_BODY,
        rows=rows_per_request,
        header=has_header(content_type),
        name=path.name,
    )
