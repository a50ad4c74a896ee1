"""SIGTERM (job stopped, spot interruption): finish the current round, then stop cleanly."""

from __future__ import annotations

import signal
from types import FrameType

import xgboost as xgb


class Terminated(Exception):
    """SIGTERM arrived before training started: there is nothing to save."""


class Termination(xgb.callback.TrainingCallback):
    """Turns SIGTERM into a request that training honours after the current round.

    Until ``defer`` is set (before training starts) the signal raises ``Terminated`` at
    once; afterwards it only sets ``requested``, so that rounds and outputs finish whole.
    """

    def __init__(self) -> None:
        super().__init__()
        self.requested = False
        self.defer = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = not self.requested
        self.requested = True
        if first:
            print("SIGTERM received: stopping after the current round", flush=True)
        if first and not self.defer:
            raise Terminated()

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        return self.requested
