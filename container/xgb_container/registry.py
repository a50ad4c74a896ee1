"""The loaded models of a multi-model endpoint, in a folder every worker reads.

gunicorn workers share no memory, so the master creates a folder and each load is one file
``<name>.json`` in it. A write is atomic: the entry is written to a hidden temporary file and
then hard-linked into place, so a reader meets a whole entry or none, and of two loads of one
name exactly one wins. Readers treat anything unreadable as absent: no state of the folder
is an error.

An entry names the load, not only the url: ``generation`` is new for every load, so a worker
holding a Booster from an earlier load of the same name and url knows it is stale, and
``digest`` is the content identity of the files the load read.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from werkzeug.exceptions import Conflict

from .errors import UserError

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
SUFFIX = ".json"


@dataclass(frozen=True)
class Entry:
    """One load: the contract's name and url, plus which load and which files."""

    name: str
    url: str
    generation: str
    digest: str

    @classmethod
    def new(cls, name: str, url: str, digest: str) -> Entry:
        return cls(name, url, uuid.uuid4().hex, digest)

    @classmethod
    def from_json(cls, raw: bytes) -> Entry | None:
        """The entry in ``raw``; ``None`` for anything that is not a whole entry."""
        try:
            found = json.loads(raw)
            entry = cls(**found)
        except (ValueError, TypeError):
            return None
        if not all(isinstance(value, str) for value in asdict(entry).values()):
            return None
        return entry

    def public(self) -> dict[str, str]:
        """What the hosting contract shows of a model."""
        return {"modelName": self.name, "modelUrl": self.url}


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UserError(f"model name {name!r} must be letters, digits, '.', '_' or '-'")
    return name


class Registry:
    """The shared folder of entries."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, name: str) -> Path:
        return self.folder / f"{check_name(name)}{SUFFIX}"

    def get(self, name: str) -> Entry | None:
        try:
            return Entry.from_json(self._path(name).read_bytes())
        except (FileNotFoundError, IsADirectoryError):
            return None

    def add(self, entry: Entry) -> None:
        """Record ``entry`` atomically; ``Conflict`` (409) when its name is taken."""
        final = self._path(entry.name)
        temp = self.folder / f".{entry.name}.{entry.generation}.tmp"
        with temp.open("x", encoding="utf-8") as f:
            json.dump(asdict(entry), f)
        try:
            os.link(temp, final)  # atomic, and fails when the name exists (rename would not)
        except FileExistsError:
            raise Conflict(f"model {entry.name} is already loaded") from None
        finally:
            temp.unlink()

    def remove(self, name: str) -> bool:
        try:
            self._path(name).unlink()
        except FileNotFoundError:
            return False
        return True

    def names(self) -> set[str]:
        """The names with an entry (whole or not): one directory read, no file opened."""
        with os.scandir(self.folder) as found:
            return {
                e.name[: -len(SUFFIX)]
                for e in found
                if e.name.endswith(SUFFIX) and not e.name.startswith(".")
            }

    def all(self) -> list[Entry]:
        """Every whole entry, by name."""
        entries = (self.get(name) for name in sorted(self.names()) if NAME.fullmatch(name))
        return [entry for entry in entries if entry is not None]

    def stamp(self) -> int:
        """The folder's modification time (ns): it changes whenever an entry comes or goes."""
        return os.stat(self.folder).st_mtime_ns
