"""Which hosts a broken distributed job lost, named from the survivors' point of view.

A host whose collective fails probes the roll-call port of every participant (a process
that still holds it is alive), tells the peers still alive which hosts it found lost, and
reads what they told it: a host that merely stopped because of another is not blamed, nor
one that said it finished. ``Watch`` covers a collective call that never returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import xgboost as xgb

from . import rollcall
from .errors import UserError
from .rollcall import Inbox, Plan, Settings

NOTE_WAIT = 0.5  # seconds for notes sent just before a peer's exit to arrive
LINGER = 3.0  # seconds a failed host keeps answering probes; a survivor probes as long
PROBE_EVERY = 1.0  # seconds between the watch's probes


def is_communication_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is XGBoost's collective failing."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, xgb.core.XGBoostError):
            text = str(seen)
            return any(m in text for m in ("collective", "comm.cc", "allreduce", "socket", "Poll"))
        seen = seen.__context__
    return False


def unreachable(plan: Plan, settings: Settings) -> list[str]:
    """The other participants whose roll-call socket no longer answers."""
    peers = [h for h in plan.participants if h != plan.current]
    with ThreadPoolExecutor(len(peers)) as pool:
        up = list(pool.map(lambda h: rollcall.alive(plan.addresses[h], settings.port), peers))
    return [h for h, ok in zip(peers, up, strict=True) if not ok]


def unreachable_settled(plan: Plan, settings: Settings) -> list[str]:
    """Probe again until a peer is found lost, for at most ``LINGER`` seconds: a killed
    host's connections break while its process is still being torn down, and its port
    can answer for a moment longer (a loaded machine makes that moment long)."""
    deadline = time.monotonic() + LINGER
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if lost := unreachable(plan, settings):
            return lost
    return []


def compare_notes(
    plan: Plan, settings: Settings, inbox: Inbox | None, lost: list[str]
) -> list[str]:
    """Tell the peers still alive which hosts this one found lost; then drop from ``lost``
    the hosts that said the same of another (they stopped, they were not lost) or that
    said they finished, adding the hosts they named."""
    note = {"host": plan.current, "lost": lost}
    alive = [h for h in plan.participants if h != plan.current and h not in lost]
    with ThreadPoolExecutor(max(1, len(alive))) as pool:
        for host in alive:
            pool.submit(rollcall.notify, plan.addresses[host], settings.port, note)
    time.sleep(NOTE_WAIT)
    notes = dict(inbox.notes) if inbox else {}
    stopped = {h for h, n in notes.items() if "lost" in n or n.get("finished")}
    named = {x for h in stopped for x in notes[h].get("lost", []) if x != plan.current}
    return sorted(({h for h in lost if h not in stopped} | named) - stopped)


def finished(inbox: Inbox | None) -> set[str]:
    """The hosts that said they finished their part of the job (they are not lost)."""
    notes = dict(inbox.notes) if inbox else {}
    return {host for host, note in notes.items() if note.get("finished")}


def say_finished(plan: Plan, settings: Settings) -> None:
    """Tell the other participants that this host finished: its port closing is no loss."""
    note = {"host": plan.current, "finished": True}
    peers = [h for h in plan.participants if h != plan.current]
    with ThreadPoolExecutor(max(1, len(peers))) as pool:
        for host in peers:
            pool.submit(rollcall.notify, plan.addresses[host], settings.port, note)


def detail_of(exc: BaseException) -> str:
    """The last line of XGBoost's error (its root cause), or the exception's first line."""
    text = str(exc.__context__ if isinstance(exc, UserError) and exc.__context__ else exc)
    lines = [ln.split("]: ", 1)[-1] for ln in text.splitlines() if ln.startswith("- [")]
    return lines[-1] if lines else text.splitlines()[0] if text else type(exc).__name__


def reason(plan: Plan, settings: Settings, detail: str, lost: list[str], elapsed: float) -> str:
    """The one-line failure of a job that broke off after ``elapsed`` seconds."""
    who = f"host(s) {', '.join(lost)} lost" if lost else "a peer failed"
    return (
        f"distributed training broke off on {plan.current} after {elapsed:.0f} s: {who} "
        f"({detail}; hosts {', '.join(plan.participants)}, timeout {settings.timeout} s)"
    )


def diagnose(
    plan: Plan, settings: Settings, inbox: Inbox | None, exc: BaseException, elapsed: float
) -> str | None:
    """The failure line when ``exc`` came from a lost peer or broken communication;
    None when it is this host's own failure."""
    lost = unreachable(plan, settings)
    communication = is_communication_error(exc)
    if not lost and communication:
        lost = unreachable_settled(plan, settings)
    if not lost and not communication:
        return None
    lost = compare_notes(plan, settings, inbox, lost)
    return reason(plan, settings, detail_of(exc), lost, elapsed)


class Watch:
    """Fails this host when its collective call hangs after a peer is lost.

    XGBoost's event loop can answer a failed operation before it records the error; the
    next operation then waits for good on a loop that has stopped, and no timeout ends
    the wait. So while the body runs, a thread probes the other participants every
    ``PROBE_EVERY`` seconds. When one has been gone without saying it finished for a
    whole ``settings.timeout`` (a healthy collective call would have failed by then),
    and this host has not failed by itself, ``end`` gets the failure line: it must end
    the process, as the main thread may never come back.
    """

    def __init__(
        self,
        plan: Plan,
        settings: Settings,
        inbox: Inbox | None,
        end: Callable[[str], None],
        started: float,
    ) -> None:
        self.plan, self.settings, self.inbox, self.end = plan, settings, inbox, end
        self.started = started  # time.monotonic() when the collective began
        self._over = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="collective-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """The body is over (done or failed by itself): the watch never fires after this.
        Waits while the watch is firing (the process is then ending)."""
        with self._lock:
            self._over.set()

    def _run(self) -> None:
        gone_since: dict[str, float] = {}
        while not self._over.wait(PROBE_EVERY):
            now = time.monotonic()
            gone = set(unreachable(self.plan, self.settings)) - finished(self.inbox)
            gone_since = {h: gone_since.get(h, now) for h in gone}
            if gone_since and now - min(gone_since.values()) >= self.settings.timeout:
                with self._lock:
                    if not self._over.is_set():
                        self._fire(sorted(gone), now)
                return

    def _fire(self, gone: list[str], now: float) -> None:
        lost = compare_notes(self.plan, self.settings, self.inbox, gone)
        detail = f"no answer from XGBoost's collective {self.settings.timeout} s after the loss"
        self.end(reason(self.plan, self.settings, detail, lost, now - self.started))
