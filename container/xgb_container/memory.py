"""How much memory this container may use, and roughly how much a channel needs.

The limit is the container's cgroup limit (v2 ``memory.max``, v1
``memory.limit_in_bytes``), capped by the machine's memory; what is left is that limit less
this process's resident memory. A channel's need is estimated from its files' sizes (gzip
files by the uncompressed size in their trailer): a quantized matrix holds about one byte
per value and a CSV value takes at least two bytes of text, so a quarter of the text size
is a safe upper estimate for numbers written with a few digits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
UNLIMITED = 1 << 60  # cgroup v1 writes a page-rounded 2**63 - 1 for "no limit"
BYTES_PER_VALUE_OF_TEXT = 4
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 256 << 10


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return None if value >= UNLIMITED else value


def _own_cgroup(root: Path) -> Path | None:
    """This process's cgroup folder under ``root`` (v2), when it is visible."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            return root / line[3:].lstrip("/")
    return None


def cgroup_limit(root: Path | None = None) -> int | None:
    """The cgroup memory limit in bytes (v2, then v1); ``None`` when unlimited."""
    root = root or CGROUP_ROOT
    candidates = [root / "memory.max"]
    own = _own_cgroup(root) if root == CGROUP_ROOT else None
    if own is not None:
        candidates.insert(0, own / "memory.max")
    candidates.append(root / "memory" / "memory.limit_in_bytes")
    for path in candidates:
        if path.exists():
            return _read_int(path)
    return None


def machine_memory() -> int | None:
    """Physical memory in bytes."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return None


def resident() -> int:
    """This process's resident memory in bytes."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def available(root: Path | None = None) -> int | None:
    """Bytes this process may still allocate; ``None`` when nothing limits it."""
    limits = [v for v in (cgroup_limit(root), machine_memory()) if v]
    if not limits:
        return None
    return max(0, min(limits) - resident())


def file_size(path: Path) -> int:
    """Bytes of a file's contents: for a gzip file the uncompressed size in its trailer
    (modulo 4 GiB, so a trailer below the compressed size counts as ten times that)."""
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            if f.read(2) != b"\x1f\x8b" or size < 18:
                return size
            f.seek(-4, os.SEEK_END)
            trailer = int.from_bytes(f.read(4), "little")
    except OSError:
        return size
    return trailer if trailer >= size else size * 10


def estimated_need(files: list[Path]) -> int:
    """A safe upper estimate of the bytes a quantized matrix of ``files`` takes."""
    return sum(file_size(p) for p in files) // BYTES_PER_VALUE_OF_TEXT


def give_back_freed_blocks() -> bool:
    """Make glibc return freed blocks of ``MMAP_THRESHOLD`` bytes or more to the system.

    By default glibc raises its mmap threshold (up to 32 MB) the first time a large block
    is freed; from then on parsed chunks, copies and XGBoost's buffers come from the heap,
    whose freed space stays resident: the train program grew by 20 to 60 MB a phase that
    way. A fixed threshold maps each large block on its own and unmaps it when freed, for
    about 10% more CPU (page faults), so only the external-memory path asks for it. False
    where the C library is not glibc.
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    return bool(mallopt and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
