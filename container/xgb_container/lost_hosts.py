"""Which hosts a broken distributed job lost, named from the survivors' point of view.

A host whose collective fails probes the roll-call port of every participant (a process
that still holds it is alive), tells the peers still alive which hosts it found lost, and
reads what they told it: a host that merely stopped because of another is not blamed.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import xgboost as xgb

from . import rollcall
from .errors import UserError
from .rollcall import Inbox, Plan, Settings

NOTE_WAIT = 0.5  # seconds for notes sent just before a peer's exit to arrive
LINGER = 3.0  # seconds a failed host keeps answering probes; a survivor probes as long


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
    the hosts that said the same of another (they stopped, they were not lost), adding
    the hosts they named."""
    note = {"host": plan.current, "lost": lost}
    alive = [h for h in plan.participants if h != plan.current and h not in lost]
    with ThreadPoolExecutor(max(1, len(alive))) as pool:
        for host in alive:
            pool.submit(rollcall.notify, plan.addresses[host], settings.port, note)
    time.sleep(NOTE_WAIT)
    notes = dict(inbox.notes) if inbox else {}
    named = {h for n in notes.values() for h in n.get("lost", []) if h != plan.current}
    return sorted(({h for h in lost if h not in notes} | named) - set(notes))


def reason(
    plan: Plan, settings: Settings, exc: BaseException, lost: list[str], elapsed: float
) -> str:
    """The one-line failure of a job that broke off after ``elapsed`` seconds."""
    text = str(exc.__context__ if isinstance(exc, UserError) and exc.__context__ else exc)
    lines = [ln.split("]: ", 1)[-1] for ln in text.splitlines() if ln.startswith("- [")]
    detail = lines[-1] if lines else text.splitlines()[0] if text else type(exc).__name__
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
    return reason(plan, settings, exc, compare_notes(plan, settings, inbox, lost), elapsed)
