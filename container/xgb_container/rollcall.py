"""The roll call: before XGBoost's collective starts, every host says whether it has
training rows and which schema its first pass over them found; the answer is a ``Plan``.

XGBoost's tracker must know the number of workers up front, and a host whose shard is
empty should not be one of them; the categories of header tables must be agreed before
any matrix is built, so every host derives the union of all schemas (``sharding``). So the first host of the sorted list listens on the
roll-call port; every host (itself included) connects, sends one JSON line (its report),
and receives one JSON line: the reports of all hosts in sorted order, or an error naming
the hosts that never reported. Every host then derives the same participants from the
same reports. The listening socket of every host stays open for the whole job: a peer
that can connect to it knows the process is alive (see ``alive``), and a host whose
training broke off tells the others there which hosts it found lost (see ``Inbox``), so
that a host that merely stopped because of another is not itself blamed.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import UserError
from .formats import Schema
from .sharding import merge_schemas

log = logging.getLogger(__name__)

MAX_MESSAGE = 64 * 1024 * 1024


def _env_int(name: str, default: int, low: int, high: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"environment variable {name}={text!r} must be an integer") from None
    if not low <= value <= high:
        raise UserError(f"environment variable {name}={value} must be in [{low}, {high}]")
    return value


@dataclass(frozen=True)
class Settings:
    """Ports and time limits of the cluster."""

    port: int = 9099
    worker_port: int = 0
    timeout: int = 300
    resolve_timeout: int = 300

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            port=_env_int("XGB_DIST_PORT", 9099, 1024, 65534),
            worker_port=_env_int("XGB_DIST_WORKER_PORT", 0, 0, 65535),
            timeout=_env_int("XGB_DIST_TIMEOUT", 300, 5, 86400),
            resolve_timeout=_env_int("XGB_DIST_RESOLVE_TIMEOUT", 300, 0, 86400),
        )

    @property
    def tracker_port(self) -> int:
        return self.port + 1


@dataclass
class Plan:
    """What the roll call decided: who trains, in which order, on which schema, and the
    channels every participant builds (empty where it has no rows)."""

    hosts: list[str]
    current: str
    participants: list[str]
    schema: Schema | None = None
    channels: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)

    @classmethod
    def alone(cls, current: str, schema: Schema | None, channels: list[str]) -> Plan:
        """The plan of a one-host job: no roll call."""
        return cls([current], current, [current], schema, sorted(channels))

    @property
    def distributed(self) -> bool:
        """Whether training runs XGBoost's collective (two or more participants)."""
        return len(self.participants) > 1

    @property
    def rank(self) -> int:
        return self.participants.index(self.current) if self.current in self.participants else -1

    @property
    def world(self) -> int:
        return len(self.participants)

    @property
    def is_coordinator(self) -> bool:
        """The host that writes model, metadata, evaluation and checkpoints."""
        return bool(self.participants) and self.participants[0] == self.current

    @property
    def leaves(self) -> bool:
        return self.current not in self.participants


def resolve(host: str, timeout: float) -> str:
    """The IPv4 address of ``host``, retried until ``timeout`` (DNS comes up late)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0]
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise UserError(
                    f"host {host} does not resolve after {timeout:g} s ({exc})"
                ) from None
            time.sleep(1)


def listen(port: int) -> socket.socket:
    """The roll-call socket of this host, on every interface."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("", port))
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on roll-call port {port}: {exc.strerror}") from None
    sock.listen(64)
    return sock


def _read_line(conn: socket.socket) -> bytes:
    chunks = bytearray()
    while not chunks.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        chunks += chunk
        if len(chunks) > MAX_MESSAGE:
            raise ValueError("roll-call message too large")
    return bytes(chunks)


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    try:
        conn.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        pass
    finally:
        conn.close()


class Server:
    """Collects one report per host on the first host, then answers everyone at once."""

    def __init__(self, sock: socket.socket, hosts: list[str], timeout: float) -> None:
        self.sock = sock
        self.hosts = hosts
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.thread = threading.Thread(target=self._run, name="roll-call", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        waiting: dict[str, socket.socket] = {}
        reports: dict[str, dict[str, Any]] = {}
        while len(reports) < len(self.hosts):
            left = self.deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(min(left, 1.0))
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            try:
                conn.settimeout(30)
                report = json.loads(_read_line(conn))
                host = report["host"]
            except (OSError, ValueError, KeyError, TypeError):
                conn.close()
                continue
            if host not in self.hosts:
                _send(conn, {"error": f"host {host!r} is not in the resource config"})
                continue
            if host in waiting:
                waiting[host].close()
            waiting[host] = conn
            reports[host] = report
        self.sock.settimeout(None)
        missing = [h for h in self.hosts if h not in reports]
        if missing:
            answer: dict[str, Any] = {
                "error": f"host(s) {', '.join(missing)} did not join within {self.timeout:g} s"
            }
        else:
            answer = {"reports": [reports[h] for h in self.hosts]}
        for conn in waiting.values():
            _send(conn, answer)


def report(address: str, port: int, message: dict[str, Any], timeout: float) -> list[dict]:
    """Send this host's report to the roll-call host; the reports of all hosts, in order."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            conn = socket.create_connection((address, port), timeout=5)
            break
        except OSError as exc:
            last = exc.strerror or type(exc).__name__
            if time.monotonic() > deadline:
                raise UserError(
                    f"cannot reach the roll call at {address}:{port} within {timeout:g} s ({last})"
                ) from None
            time.sleep(0.5)
    with conn:
        conn.settimeout(timeout + 30)
        try:
            conn.sendall(json.dumps(message).encode() + b"\n")
            answer = json.loads(_read_line(conn))
        except (OSError, ValueError) as exc:
            raise UserError(f"the roll call at {address}:{port} broke off: {exc}") from None
    if "error" in answer:
        raise UserError(f"roll call failed: {answer['error']}")
    return answer["reports"]


def alive(address: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a host's process still holds its roll-call socket open."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


class Inbox:
    """Notes from other hosts (one JSON line per connection) received on ``sock``; the
    notes of one host are merged, a later value of a key replacing the earlier one."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.notes: dict[str, dict[str, Any]] = {}
        self._arrived = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="inbox", daemon=True)
        self.thread.start()

    def wait(self, host: str, key: str, timeout: float) -> bool:
        """Whether a note of ``host`` carrying ``key`` arrived within ``timeout`` seconds."""
        with self._arrived:
            return self._arrived.wait_for(lambda: key in self.notes.get(host, {}), timeout)

    def _run(self) -> None:
        self.sock.settimeout(None)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # the socket was closed: the job is over
            with conn:
                try:
                    conn.settimeout(2)
                    note = json.loads(_read_line(conn) or b"null")
                except (OSError, ValueError):
                    continue
            if isinstance(note, dict) and isinstance(note.get("host"), str):
                with self._arrived:
                    self.notes[note["host"]] = {**self.notes.get(note["host"], {}), **note}
                    self._arrived.notify_all()


def notify(address: str, port: int, note: dict[str, Any], timeout: float = 2.0) -> None:
    """Leave ``note`` in a host's inbox; silently nothing when it cannot be reached."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as conn:
            conn.sendall(json.dumps(note).encode() + b"\n")
    except OSError:
        pass


def take(
    hosts: list[str],
    current: str,
    settings: Settings,
    schema: Schema | None,
    channels: list[str],
) -> tuple[Plan, socket.socket]:
    """Hold the roll call (``schema`` is this host's train schema, None without rows);
    the plan, and this host's roll-call socket, which stays open for the whole job."""
    addresses = {h: resolve(h, settings.resolve_timeout) for h in hosts}
    listener = listen(settings.port)
    server = Server(listener, hosts, settings.timeout) if current == hosts[0] else None
    message = {
        "host": current,
        "rows": schema is not None,
        "schema": None if schema is None else asdict(schema),
        "channels": sorted(channels),
    }
    try:
        reports = report(addresses[hosts[0]], settings.port, message, settings.timeout)
    except BaseException:
        listener.close()
        raise
    finally:
        if server is not None:
            # Every host has its answer before this one moves on (or leaves).
            server.thread.join(timeout=30)
    with_rows = [r for r in reports if r["rows"]]
    participants = [r["host"] for r in with_rows]
    if not participants:
        listener.close()
        raise UserError(f"no host has training rows (hosts: {', '.join(hosts)})")
    log.info("roll call: participants %s (hosts %s)", participants, hosts)
    merged = merge_schemas([Schema(**r["schema"]) for r in with_rows])
    names = sorted({n for r in with_rows for n in r["channels"]})
    plan = Plan(hosts, current, participants, merged, names, addresses)
    return plan, listener
