"""Channel files: which files a channel holds, and their bytes as blocks of whole lines
(gzip files decompressed as they are read, never whole in memory)."""

from __future__ import annotations

import difflib
import gzip
import shutil
import stat
import tempfile
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ..errors import UserError

BLOCK_BYTES = 4 << 20  # a parsed block takes about 10 to 20 times this at its peak
GZIP_MAGIC = b"\x1f\x8b"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def channel_files(folder: Path) -> list[Path]:
    """Data files of a channel, sub-folders included, in a stable order; hidden files and
    folders skipped. Anything that is not a regular file (a FIFO, a device, a socket, a
    broken link) is refused with an error naming it."""
    if not folder.is_dir():
        return []
    files = []
    for path in sorted(folder.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise UserError(f"{path}: cannot read the channel file ({exc.strerror})") from None
        if stat.S_ISDIR(mode):
            continue
        if not stat.S_ISREG(mode):
            raise UserError(f"{path} is {_kind(mode)}; a channel holds only regular files")
        files.append(path)
    return files


def did_you_mean(name: str, choices: list[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, else ``""``."""
    close = difflib.get_close_matches(name, choices, n=1)
    if not close:
        close = [c for c in choices if c.strip().lower() == name.strip().lower()][:1]
    return f"; did you mean {close[0]!r}?" if close else ""


@contextmanager
def opened(path: Path) -> Iterator[IO[bytes]]:
    """The file's bytes, gunzipped as they are read when it starts with gzip's magic."""
    with open(path, "rb") as raw:
        if raw.read(2) == GZIP_MAGIC:
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw, mode="rb") as unpacked:
                yield unpacked
        else:
            raw.seek(0)
            yield raw


def _read(stream: IO[bytes], size: int, path: Path) -> bytes:
    try:
        return stream.read(size)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise UserError(f"{path}: broken gzip file ({exc})") from None


def blocks(path: Path, skip_lines: int = 0) -> Iterator[tuple[int, bytes]]:
    """The file as blocks of whole lines (about ``BLOCK_BYTES`` each), each with the number
    of its first line (from 1).

    The first ``skip_lines`` lines are left out (and still counted).
    """
    line = 1
    with opened(path) as stream:
        for _ in range(skip_lines):
            if not stream.readline():
                return
            line += 1
        rest = b""
        while True:
            data = _read(stream, BLOCK_BYTES, path)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            yield line, block
            line += block.count(b"\n")
        if rest:
            yield line, rest


def first_line(path: Path) -> bytes:
    """The file's first line (the header of a table), without its line end."""
    with opened(path) as stream:
        try:
            return stream.readline().rstrip(b"\r\n")
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise UserError(f"{path}: broken gzip file ({exc})") from None


@contextmanager
def seekable(path: Path) -> Iterator[IO[bytes] | Path]:
    """A path or file a random-access reader (Parquet) can open; a gzip file is unpacked
    into a temporary file first, in pieces."""
    with open(path, "rb") as raw:
        packed = raw.read(2) == GZIP_MAGIC
    if not packed:
        yield path
        return
    with tempfile.TemporaryFile() as copy, opened(path) as stream:
        try:
            shutil.copyfileobj(stream, copy, 1 << 20)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise UserError(f"{path}: broken gzip file ({exc})") from None
        copy.seek(0)
        yield copy


def ahead[T, R](items: Iterable[T], work: Callable[[T], R], workers: int) -> Iterator[R]:
    """``work(item)`` for each item, in order, with up to ``workers`` items worked on at once
    in threads: for parsers that let go of the GIL, as pandas' C reader does. An error is
    raised where its item's result is taken."""
    if workers < 2:
        yield from map(work, items)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="parse") as pool:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
