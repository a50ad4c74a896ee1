"""The collective session of a distributed job: XGBoost's communicator among the
participants of a roll-call plan, and what they exchange inside it (gather, broadcast,
agreed stop). On one participant every exchange is the identity."""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType
from typing import Any, NoReturn

import numpy as np
import xgboost as xgb
from xgboost import collective
from xgboost.tracker import RabitTracker

from .errors import UserError
from .rollcall import Plan, Settings

_abandoned = False  # set when a broken communicator or tracker was left behind


def abandoned() -> bool:
    """Whether this process left XGBoost's communicator or tracker without finalizing them
    (the job broke off). XGBoost's clean-up at exit would then retry the lost tracker and
    log through an already finalized Python, a crash (SIGSEGV): use ``end_process``."""
    return _abandoned


def end_process(code: int) -> NoReturn:
    """Flush the logs and exit with ``code`` at once, without the clean-up at exit."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


class Session:
    """This host's membership of the collective described by ``plan``."""

    def __init__(self, plan: Plan, settings: Settings) -> None:
        self.plan = plan
        self.settings = settings
        self._tracker: RabitTracker | None = None
        self._active = False

    @property
    def distributed(self) -> bool:
        return self.plan.distributed

    @property
    def rank(self) -> int:
        return self.plan.rank

    @property
    def world(self) -> int:
        return self.plan.world

    def start_tracker(self) -> None:
        """The coordinator runs XGBoost's tracker, on the port after the roll call's."""
        if not (self.plan.is_coordinator and self.distributed):
            return
        self._tracker = RabitTracker(
            n_workers=self.world,
            host_ip=self.plan.addresses[self.plan.current],
            port=self.settings.tracker_port,
            sortby="task",
            # No timeout of its own: it would also end the shutdown of the group, and the
            # coordinator may write its outputs for longer, after the others have finished.
            # Every wait on it is bounded elsewhere (the workers' timeout, ``close``).
            timeout=0,
        )
        self._tracker.start()

    def worker_args(self) -> dict[str, Any]:
        s = self.settings
        args: dict[str, Any] = {
            "dmlc_communicator": "rabit",
            "dmlc_tracker_uri": self.plan.addresses[self.plan.participants[0]],
            "dmlc_tracker_port": s.tracker_port,
            "dmlc_task_id": f"{self.rank:06d}",
            "dmlc_timeout": s.timeout,
            "dmlc_retry": 6,
        }
        if s.worker_port:
            args["dmlc_worker_port"] = s.worker_port
        return args

    def open(self) -> None:
        """Join XGBoost's communicator (nothing on one participant)."""
        if not self.distributed:
            return
        collective.init(**self.worker_args())
        self._active = True
        if collective.get_rank() != self.rank:
            raise UserError(f"tracker gave rank {collective.get_rank()}, expected {self.rank}")

    def close(self, failed: bool) -> None:
        """Leave the communicator; after a failure without waiting on broken peers."""
        global _abandoned
        if self._active:
            self._active = False
            # After a failure, finalizing would retry the (maybe unreachable) tracker: skip it.
            if failed:
                _abandoned = True
            else:
                try:
                    collective.finalize()
                except xgb.core.XGBoostError:
                    failed = True
        tracker, self._tracker = self._tracker, None
        if tracker is not None:
            try:
                if not failed:
                    tracker.wait_for(self.settings.timeout)
                    tracker.free()
            except (xgb.core.XGBoostError, ValueError):
                failed = True
            if failed and hasattr(tracker, "handle"):
                # Freeing a tracker whose workers broke waits out its timeout: let it go.
                del tracker.handle
                _abandoned = True

    def allreduce_sum(self, values: np.ndarray) -> np.ndarray:
        """Element-wise sum over participants."""
        if not self.distributed:
            return values
        return collective.allreduce(np.asarray(values, dtype=np.float64), collective.Op.SUM)

    def gather(self, values: np.ndarray) -> np.ndarray:
        """Rows of every participant concatenated in rank order."""
        if not self.distributed:
            return values
        values = np.asarray(values)
        counts = np.zeros(self.world)
        counts[self.rank] = values.shape[0]
        counts = self.allreduce_sum(counts).astype(np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        buffer = np.zeros((int(offsets[-1]), *values.shape[1:]), dtype=np.float64)
        buffer[offsets[self.rank] : offsets[self.rank + 1]] = values
        return self.allreduce_sum(buffer).astype(values.dtype)

    def counts(self, count: int) -> list[int]:
        """``count`` of every participant, in rank order."""
        return [int(c) for c in self.gather(np.array([count], np.int64))]

    def share_booster(self, booster: xgb.Booster | None) -> xgb.Booster | None:
        """The coordinator's booster (e.g. its newest checkpoint) on every participant."""
        if not self.distributed:
            return booster
        mine = None
        if self.rank == 0 and booster is not None:
            mine = (bytes(booster.save_raw("ubj")), booster.save_config())
        shared = collective.broadcast([mine] if self.rank == 0 else None, 0)[0]
        if shared is None or self.rank == 0:
            return booster
        copy = xgb.Booster()
        copy.load_model(bytearray(shared[0]))
        copy.load_config(shared[1])
        return copy

    def agreed_stop(self, callback: Any) -> xgb.callback.TrainingCallback:
        """``callback`` (one with a ``requested`` flag, like SIGTERM's), honoured by all
        participants in the same round as soon as any one of them has it set."""
        return callback if not self.distributed else _AgreedStop(self, callback)


class _AgreedStop(xgb.callback.TrainingCallback):
    """Stops every participant after the same round: the first round whose allreduced
    "stop requested" flag is set. Only that sum decides, so a SIGTERM that arrives after
    this host sent its flag counts from the next round on, as it does for the others; one
    that arrives after the last round's flag is dropped, as the others finish the job."""

    def __init__(self, session: Session, callback: Any) -> None:
        super().__init__()
        self.session = session
        self.callback = callback
        self.agreed = False

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        flag = np.array([1.0 if self.callback.requested else 0.0])
        self.agreed = bool(self.session.allreduce_sum(flag)[0] > 0)
        return self.agreed

    def after_training(self, model: xgb.Booster) -> xgb.Booster:
        # From here on a SIGTERM changes nothing: all stopped, or all finish, together.
        signal.signal(signal.SIGTERM, _after_training)
        self.callback.requested = self.agreed
        return model


def _after_training(signum: int, frame: FrameType | None) -> None:
    print("SIGTERM received after the last round: the job finishes", flush=True)
