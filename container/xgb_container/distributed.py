"""Training across SageMaker hosts with XGBoost's own collective (Rabit).

From ``resourceconfig.json``: hosts are taken in sorted order. Every host reads its train
channel's schema (a first pass), then joins the roll call (``rollcall``) held by the
first host. Hosts with rows are the participants, ranked in sorted order, and all adopt
the union of their schemas; the first participant is the coordinator: it runs XGBoost's
tracker, and alone writes the model, metadata, evaluation and checkpoints. A host without
rows leaves cleanly. Each participant then streams its own share of every channel
(``sharding``) inside the collective session (``session``). Every wait is bounded by
``XGB_DIST_TIMEOUT``; a lost peer is named by probing the roll-call port of every
participant (``lost_hosts``).

Settings (environment): ``XGB_DIST_PORT`` (roll call, default 9099; the tracker uses the
next port), ``XGB_DIST_WORKER_PORT`` (peer port, default any), ``XGB_DIST_TIMEOUT``
(seconds, default 300), ``XGB_DIST_RESOLVE_TIMEOUT`` (seconds to wait for DNS, default 300).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import lost_hosts, rollcall
from .errors import UserError
from .formats import Schema
from .outputs import write_failure
from .paths import Layout
from .rollcall import Plan, Settings
from .session import Session, end_process

log = logging.getLogger(__name__)

LINGER = lost_hosts.LINGER  # seconds a failed host keeps answering probes


@dataclass
class Cluster:
    """This host's place in the job: one host, or one of several."""

    hosts: list[str]
    current: str
    settings: Settings
    plan: Plan | None = None
    failure_file: Path | None = None
    _listener: socket.socket | None = None
    _inbox: rollcall.Inbox | None = None
    _failed_at: float | None = None

    @classmethod
    def from_layout(cls, layout: Layout) -> Cluster:
        config = layout.resource_config()
        hosts = sorted(config.get("hosts") or ["algo-1"])
        current = config.get("current_host") or hosts[0]
        if current not in hosts:
            raise UserError(f"resourceconfig.json: current_host {current!r} is not in {hosts}")
        settings = Settings.from_env() if len(hosts) > 1 else Settings()
        return cls(hosts, current, settings, failure_file=layout.failure_file)

    @property
    def several(self) -> bool:
        """Whether the job has more than one host (participants or not)."""
        return len(self.hosts) > 1

    def join(self, schema: Schema | None, channels: list[str]) -> Plan:
        """Agree with the other hosts on who trains, on one schema and on the channels."""
        if not self.several:
            self.plan = Plan.alone(self.current, schema, channels)
            return self.plan
        self.plan, self._listener = rollcall.take(
            self.hosts, self.current, self.settings, schema, channels
        )
        self._inbox = rollcall.Inbox(self._listener)
        if self.plan.leaves:
            log.info("%s has no training rows: it leaves the training", self.current)
        return self.plan

    @contextmanager
    def collective(self) -> Iterator[Session]:
        """The body inside XGBoost's communicator (a no-op on one participant).

        When the body fails because a peer is gone (or XGBoost's communication broke),
        the error becomes a ``UserError`` naming the hosts that no longer answer. When
        it hangs after a peer is lost, ``lost_hosts.Watch`` ends the process.
        """
        assert self.plan is not None
        session = Session(self.plan, self.settings)
        started, cpu = time.monotonic(), time.process_time()
        if not session.distributed:
            yield session
            self._log_phase(started, cpu)
            return
        session.start_tracker()
        watch: lost_hosts.Watch | None = None
        try:
            self._tracker_ready()
            session.open()
            watch = lost_hosts.Watch(self.plan, self.settings, self._inbox, self._hung, started)
            yield session
            watch.stop()
            lost_hosts.say_finished(self.plan, self.settings)
            self._log_phase(started, cpu)
        except Exception as exc:
            if watch is not None:
                watch.stop()
            self._failed_at = time.monotonic()
            elapsed = self._failed_at - started
            reason = lost_hosts.diagnose(self.plan, self.settings, self._inbox, exc, elapsed)
            if reason:
                raise UserError(reason) from None
            raise
        finally:
            if watch is not None:
                watch.stop()
            session.close(failed=self._failed_at is not None)

    def _tracker_ready(self) -> None:
        """The coordinator tells the others that its tracker listens; they wait for that
        word (at most the timeout). XGBoost's workers retry the tracker only a few times,
        about 30 s in all, so they must not depend on when the coordinator gets there."""
        plan, port = self.plan, self.settings.port
        assert plan is not None and self._inbox is not None
        coordinator = plan.participants[0]
        if plan.current == coordinator:
            note = {"host": coordinator, "tracker": True}
            for host in plan.participants[1:]:
                rollcall.notify(plan.addresses[host], port, note)
        elif not self._inbox.wait(coordinator, "tracker", self.settings.timeout):
            log.warning(
                "no word from %s's tracker after %d s: trying it",
                coordinator,
                self.settings.timeout,
            )

    def _hung(self, reason: str) -> None:
        """The watch's verdict: this host's collective call hangs. Record the failure, keep
        answering probes for ``LINGER`` seconds, and end the process (exit 1): the main
        thread, stuck inside XGBoost, would never come back."""
        if self.failure_file is not None:
            write_failure(self.failure_file, "Training", reason)
        time.sleep(LINGER)
        end_process(1)

    def _log_phase(self, started: float, cpu: float) -> None:
        assert self.plan is not None
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
        log.info(
            "training phase on %s (rank %d of %d): %.2f s wall, %.2f s CPU",
            self.current,
            self.plan.rank,
            self.plan.world,
            wall,
            cpu,
        )

    def close(self) -> None:
        """Release the roll-call socket (the job is over).

        After a failure the socket stays open a little longer, so that peers probing
        who is lost still see this host alive.
        """
        if self._failed_at is not None:
            time.sleep(max(0.0, self._failed_at + LINGER - time.monotonic()))
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the inbox thread
            self._listener.close()
            self._listener = None
