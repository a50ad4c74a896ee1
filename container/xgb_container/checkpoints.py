"""Checkpoints: the booster with its training state, saved every few rounds and resumed.

A checkpoint is one UBJSON model file with two attributes: ``xgb_container_config``, the
booster's JSON configuration (random number generator state included), so that training
resumed from it grows exactly the trees an uninterrupted run grows; and
``xgb_container_identity``, what makes a training this training (see ``identity``).

File names carry a short digest of the identity,
``xgboost-checkpoint.<tag>.<rounds>.ubj``. A training resumes only from its own files,
after checking the whole identity stored inside; it never deletes another training's
files (a checkpoint folder reused by another job, or shared by two running jobs).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from .outputs import write_atomic

PREFIX = "xgboost-checkpoint."
SUFFIX = ".ubj"
# The tag is optional so that files of older containers (no identity) are recognised.
PATTERN = re.compile(rf"^{re.escape(PREFIX)}(?:([0-9a-f]{{12}})\.)?(\d+){re.escape(SUFFIX)}$")
CONFIG_ATTR = "xgb_container_config"
IDENTITY_ATTR = "xgb_container_identity"
KEEP = 3
# Settings that cannot change the trees: a different machine or a different report.
NOT_IDENTITY_PARAMS = ("nthread", "n_jobs", "verbosity")
NOT_IDENTITY_OWN = ("params", "checkpoint_frequency", "decision_threshold")
NOT_IDENTITY_OWN += ("save_model_on_termination",)
FITTED_CHANNELS = ("train", "validation")


@dataclass(frozen=True)
class Identity:
    """What must match for a checkpoint to be this training's: JSON-able fields and a tag."""

    fields: dict[str, Any]

    @property
    def text(self) -> str:
        return json.dumps(self.fields, sort_keys=True, separators=(",", ":"), default=str)

    @property
    def tag(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]

    def differences(self, other: dict[str, Any]) -> list[str]:
        """Dotted names of the fields where ``other`` (a stored identity) differs."""
        return sorted(_differences(json.loads(self.text), other, ""))


def _differences(mine: Any, other: Any, where: str, depth: int = 2) -> list[str]:
    if depth and isinstance(mine, dict) and isinstance(other, dict):
        found: list[str] = []
        for key in set(mine) | set(other):
            found += _differences(mine.get(key), other.get(key), f"{where}{key}.", depth - 1)
        return found
    return [] if mine == other else [where.rstrip(".")]


def identity(
    params: dict[str, Any], hp: Any, matrices: dict[str, xgb.DMatrix], schema: Any = None
) -> Identity:
    """The identity of a training: the settings that shape the trees, and the data.

    - XGBoost's parameters as training uses them (``scale_pos_weight=auto`` resolved), less
      the thread count; the container's own settings that change the trees (rounds, early
      stopping, label, weights, categorical handling), not those that change only reports;
    - the feature schema (names, types, categories, label column);
    - per fitted channel (train, validation): rows, columns and a digest of the labels and
      weights, so that the same settings on new data (next month's retraining into a fixed
      checkpoint location) are a new training;
    - the XGBoost version.
    """
    own = {k: v for k, v in asdict(hp).items() if k not in NOT_IDENTITY_OWN}
    fields: dict[str, Any] = {
        "params": {k: v for k, v in params.items() if k not in NOT_IDENTITY_PARAMS},
        "settings": own,
        "data": {n: _matrix_digest(matrices[n]) for n in FITTED_CHANNELS if n in matrices},
        "xgboost": xgb.__version__,
    }
    if schema is not None:
        fields["schema"] = {
            "feature_names": list(schema.feature_names),
            "feature_types": list(schema.feature_types),
            "categories": dict(schema.categories),
            "label_column": schema.label_column,
        }
    return Identity(json.loads(json.dumps(fields, default=str)))  # plain JSON values only


def _matrix_digest(matrix: xgb.DMatrix) -> dict[str, Any]:
    digest = hashlib.sha256()
    for values in (matrix.get_label(), matrix.get_weight()):
        digest.update(np.ascontiguousarray(values, dtype=np.float32).tobytes())
        digest.update(b"|")
    return {
        "rows": int(matrix.num_row()),
        "columns": int(matrix.num_col()),
        "labels_and_weights": digest.hexdigest()[:16],
        "feature_names": matrix.feature_names,
        "feature_types": matrix.feature_types,
    }


def path_for(folder: Path, ident: Identity, rounds: int) -> Path:
    """Where this training's checkpoint after ``rounds`` boosting rounds is written."""
    return folder / f"{PREFIX}{ident.tag}.{rounds:08d}{SUFFIX}"


def save(folder: Path, booster: xgb.Booster, ident: Identity) -> Path:
    """Write ``booster``, its training state and identity atomically; keep the newest few."""
    booster.set_attr(**{CONFIG_ATTR: booster.save_config(), IDENTITY_ATTR: ident.text})
    try:
        raw = bytes(booster.save_raw("ubj"))
    finally:
        booster.set_attr(**{CONFIG_ATTR: None, IDENTITY_ATTR: None})
    path = path_for(folder, ident, booster.num_boosted_rounds())
    write_atomic(path, lambda tmp: tmp.write_bytes(raw))
    for old in candidates(folder, ident.tag)[KEEP:]:
        old.unlink(missing_ok=True)
    return path


def ensure(folder: Path, booster: xgb.Booster, ident: Identity) -> None:
    """Save ``booster`` unless its checkpoint for this round is already written."""
    if not path_for(folder, ident, booster.num_boosted_rounds()).exists():
        save(folder, booster, ident)


def candidates(folder: Path, tag: str | None = None) -> list[Path]:
    """Checkpoint files in ``folder`` (only those tagged ``tag`` if given), newest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(2)), p) for p in folder.iterdir() if (m := PATTERN.match(p.name))]
    found = [(n, p) for n, p in found if tag is None or PATTERN.match(p.name).group(1) == tag]
    return [p for _, p in sorted(found, reverse=True)]


def _read(path: Path) -> xgb.Booster:
    if not path.is_file():  # a FIFO or a device named like a checkpoint would block or flood
        raise ValueError("not a regular file")
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(path.read_bytes()))
    except xgb.core.XGBoostError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    return booster


def stored_identity(path: Path) -> dict[str, Any] | None:
    """The identity recorded in a checkpoint file; None when it has none or is unreadable."""
    try:
        text = _read(path).attr(IDENTITY_ATTR)
        return json.loads(text) if text else None
    except (ValueError, OSError):
        return None


def load(path: Path, ident: Identity) -> xgb.Booster:
    """A booster with its training state; ``ValueError`` when the file is not a valid
    checkpoint of the training ``ident``."""
    match = PATTERN.match(path.name)
    if not match:
        raise ValueError("not a checkpoint file name")
    booster = _read(path)
    config = booster.attr(CONFIG_ATTR)
    if config is None:
        raise ValueError("it has no training state")
    if booster.attr(IDENTITY_ATTR) != ident.text:
        raise ValueError("it belongs to another training (its stored identity differs)")
    try:
        booster.load_config(config)
    except xgb.core.XGBoostError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    booster.set_attr(**{CONFIG_ATTR: None, IDENTITY_ATTR: None})
    if booster.num_boosted_rounds() != int(match.group(2)):
        raise ValueError(f"it holds {booster.num_boosted_rounds()} rounds, not {match.group(2)}")
    return booster


def load_newest(folder: Path, ident: Identity) -> xgb.Booster | None:
    """The newest of this training's checkpoints that loads; broken ones are reported and
    skipped, another training's are reported once and left as they are."""
    for leftover in folder.glob(f".{PREFIX}{ident.tag}.*.tmp") if folder.is_dir() else ():
        leftover.unlink(missing_ok=True)  # a killed earlier run of this training
    foreign = report_foreign(folder, ident)
    own = candidates(folder, ident.tag)
    for path in own:
        try:
            booster = load(path, ident)
        except (ValueError, OSError) as exc:
            print(f"Skipping checkpoint {path.name}: {exc}", flush=True)
            continue
        print(f"Resuming from checkpoint {path.name}", flush=True)
        return booster
    if foreign or own:
        print("No checkpoint of this training: it starts from round 0", flush=True)
    return None


def report_foreign(folder: Path, ident: Identity) -> int:
    """Say in the log that checkpoints of another training are present and ignored; how many."""
    foreign = [p for p in candidates(folder) if PATTERN.match(p.name).group(1) != ident.tag]
    if not foreign:
        return 0
    stored = stored_identity(foreign[0])
    why = f"differs in: {', '.join(ident.differences(stored))}" if stored else "no identity"
    more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
    print(
        f"Ignoring checkpoints of another training in {folder}: {foreign[0].name}{more} "
        f"({why}); they are left untouched. This training's checkpoints "
        f"are named {PREFIX}{ident.tag}.*",
        flush=True,
    )
    return len(foreign)


class Checkpointer(xgb.callback.TrainingCallback):
    """Save a checkpoint every ``every`` boosting rounds."""

    def __init__(self, folder: Path, every: int, ident: Identity) -> None:
        super().__init__()
        self.folder = folder
        self.every = every
        self.ident = ident

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        if model.num_boosted_rounds() % self.every == 0:
            save(self.folder, model, self.ident)
        return False
