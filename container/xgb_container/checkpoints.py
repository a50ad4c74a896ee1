"""Checkpoints: the booster with its training state, saved every few rounds and resumed.

A checkpoint is one UBJSON model file whose attribute ``xgb_container_config`` holds the
booster's JSON configuration, random number generator state included, so that training
resumed from it grows exactly the trees an uninterrupted run grows.
"""

from __future__ import annotations

import re
from pathlib import Path

import xgboost as xgb

from .outputs import remove_partials, write_atomic

PREFIX = "xgboost-checkpoint."
SUFFIX = ".ubj"
PATTERN = re.compile(rf"^{re.escape(PREFIX)}(\d+){re.escape(SUFFIX)}$")
CONFIG_ATTR = "xgb_container_config"
KEEP = 3


def path_for(folder: Path, rounds: int) -> Path:
    """Where the checkpoint after ``rounds`` boosting rounds is written."""
    return folder / f"{PREFIX}{rounds:08d}{SUFFIX}"


def save(folder: Path, booster: xgb.Booster) -> Path:
    """Write ``booster`` and its training state atomically; keep the newest few."""
    booster.set_attr(**{CONFIG_ATTR: booster.save_config()})
    try:
        raw = bytes(booster.save_raw("ubj"))
    finally:
        booster.set_attr(**{CONFIG_ATTR: None})
    path = path_for(folder, booster.num_boosted_rounds())
    write_atomic(path, lambda tmp: tmp.write_bytes(raw))
    for old in candidates(folder)[KEEP:]:
        old.unlink(missing_ok=True)
    return path


def candidates(folder: Path) -> list[Path]:
    """Checkpoint files in ``folder``, newest (most rounds) first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := PATTERN.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def load(path: Path) -> xgb.Booster:
    """A booster with its training state; ``ValueError`` when the file is not a valid one."""
    match = PATTERN.match(path.name)
    if not match:
        raise ValueError("not a checkpoint file name")
    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(path.read_bytes()))
        config = booster.attr(CONFIG_ATTR)
        if config is None:
            raise ValueError("it has no training state")
        booster.load_config(config)
    except xgb.core.XGBoostError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    booster.set_attr(**{CONFIG_ATTR: None})
    if booster.num_boosted_rounds() != int(match.group(1)):
        raise ValueError(f"it holds {booster.num_boosted_rounds()} rounds, not {match.group(1)}")
    return booster


def load_newest(folder: Path) -> xgb.Booster | None:
    """The newest checkpoint that loads; broken ones are reported and skipped."""
    remove_partials(folder)
    for path in candidates(folder):
        try:
            booster = load(path)
        except (ValueError, OSError) as exc:
            print(f"Skipping checkpoint {path.name}: {exc}", flush=True)
            continue
        print(f"Resuming from checkpoint {path.name}", flush=True)
        return booster
    return None


class Checkpointer(xgb.callback.TrainingCallback):
    """Save a checkpoint every ``every`` boosting rounds."""

    def __init__(self, folder: Path, every: int) -> None:
        super().__init__()
        self.folder = folder
        self.every = every

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        if model.num_boosted_rounds() % self.every == 0:
            save(self.folder, model)
        return False
