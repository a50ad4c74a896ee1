"""Training across SageMaker hosts with XGBoost's own collective (Rabit).

From ``resourceconfig.json``: hosts are taken in sorted order. Every host loads its data,
then joins the roll call (``rollcall``) held by the first host, reporting its training
rows and schema. Hosts with rows are the participants, ranked in sorted order; the first
participant is the coordinator: it runs XGBoost's tracker, and alone writes the model,
metadata, evaluation and checkpoints. A host without rows leaves cleanly. Every wait is
bounded by ``XGB_DIST_TIMEOUT``; a lost peer is named by probing the roll-call port of
every participant.

Settings (environment): ``XGB_DIST_PORT`` (roll call, default 9099; the tracker uses the
next port), ``XGB_DIST_WORKER_PORT`` (peer port, default any), ``XGB_DIST_TIMEOUT``
(seconds, default 300), ``XGB_DIST_RESOLVE_TIMEOUT`` (seconds to wait for DNS, default 300).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
import xgboost as xgb
from xgboost import collective
from xgboost.tracker import RabitTracker

from . import rollcall
from .errors import UserError
from .formats import Dataset, Schema
from .paths import Layout

log = logging.getLogger(__name__)

REPLICATED = "FullyReplicated"
LINGER = 3.0  # seconds a failed host keeps answering probes


def _is_communication_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is XGBoost's collective failing."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, xgb.core.XGBoostError):
            text = str(seen)
            return any(m in text for m in ("collective", "comm.cc", "allreduce", "socket", "Poll"))
        seen = seen.__context__
    return False


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


def slice_rows(dataset: Dataset, index: int, count: int) -> Dataset | None:
    """The ``index``-th of ``count`` contiguous, disjoint parts of the rows; None if empty."""
    n = dataset.num_rows
    start, stop = n * index // count, n * (index + 1) // count
    if stop <= start:
        return None
    rows = slice(start, stop)
    weight = None if dataset.weight is None else dataset.weight[rows]
    return replace(dataset, X=dataset.X[rows], y=dataset.y[rows], weight=weight)


def empty_like(dataset: Dataset) -> Dataset:
    """No rows, the same columns: a channel this host lacks but others have."""
    width = dataset.X.shape[1]
    X = (
        sp.csr_matrix((0, width), dtype=np.float32)
        if sp.issparse(dataset.X)
        else np.empty((0, width), np.float32)
    )
    weight = None if dataset.weight is None else np.empty(0, np.float32)
    return replace(dataset, X=X, y=np.empty(0, np.float32), weight=weight)


def merge_schemas(schemas: list[Schema]) -> Schema:
    """One schema for all hosts: categories and text classes are the union, sorted."""
    first = schemas[0]
    for other in schemas[1:]:
        if (other.feature_names, other.feature_types) != (first.feature_names, first.feature_types):
            raise UserError(
                "hosts read different columns from their train shards: "
                f"{first.feature_names} against {other.feature_names}"
            )
    categories = {
        name: sorted(set().union(*(s.categories.get(name, []) for s in schemas)))
        for name in first.categories
    }
    classes = first.classes
    if classes is not None and any(s.classes != classes for s in schemas):
        positives = {s.classes[-1] for s in schemas if s.classes and len(s.classes) == 2}
        if len(positives) == 1 and all(s.classes and len(s.classes) == 2 for s in schemas):
            # positive_label: codes stay 0/1, only the name of the negative class differs.
            positive = positives.pop()
            classes = [f"not {positive}", positive]
        else:
            classes = sorted(set().union(*(s.classes or [] for s in schemas)))
    return replace(first, categories=categories, classes=classes)


def _recode(codes: np.ndarray, old: list[str], new: list[str]) -> np.ndarray:
    lookup = np.array([new.index(c) for c in old] + [np.nan], dtype=np.float32)
    index = np.where(np.isnan(codes), len(old), codes).astype(np.int64)
    return lookup[index]


def apply_schema(dataset: Dataset, schema: Schema) -> Dataset:
    """Re-encode categorical codes and text labels of ``dataset`` into ``schema``."""
    local = dataset.schema
    X, y = dataset.X, dataset.y
    if local.categories != schema.categories:
        X = np.array(X, copy=True)
        for name, cats in local.categories.items():
            i = local.feature_names.index(name)
            X[:, i] = _recode(X[:, i], cats, schema.categories[name])
    if local.classes != schema.classes and local.classes and schema.classes:
        if len(local.classes) == 2 == len(schema.classes):
            pass  # a positive_label split keeps its 0/1 codes
        else:
            y = _recode(y, local.classes, schema.classes)
    return replace(dataset, X=X, y=y, schema=schema)


def _schema_from(raw: dict[str, Any]) -> Schema:
    return Schema(**raw)


@dataclass
class Cluster:
    """This host's place in the job: one host, or one of several."""

    hosts: list[str]
    current: str
    settings: Settings = field(default_factory=Settings)
    participants: list[str] = field(default_factory=list)
    addresses: dict[str, str] = field(default_factory=dict)
    _listener: socket.socket | None = None
    _tracker: RabitTracker | None = None
    _active: bool = False
    _failed_at: float | None = None
    _inbox: rollcall.Inbox | None = None

    @classmethod
    def from_layout(cls, layout: Layout) -> Cluster:
        config = layout.resource_config()
        hosts = sorted(config.get("hosts") or ["algo-1"])
        current = config.get("current_host") or hosts[0]
        if current not in hosts:
            raise UserError(f"resourceconfig.json: current_host {current!r} is not in {hosts}")
        settings = Settings.from_env() if len(hosts) > 1 else Settings()
        return cls(hosts, current, settings, participants=[current] if len(hosts) == 1 else [])

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

    # -- joining --------------------------------------------------------------

    def join(
        self,
        channels: dict[str, Dataset],
        input_config: dict[str, dict[str, Any]],
        reload: Callable[[Schema], dict[str, Dataset]] | None = None,
    ) -> dict[str, Dataset] | None:
        """Agree with the other hosts on who trains; this host's share of each channel.

        ``input_config`` is inputdataconfig.json: a channel without S3DistributionType is
        FullyReplicated (SageMaker's default). When the hosts' schemas differ (each learnt
        categories from its own shard), ``reload`` reads the channels again with the
        agreed one; without it, codes are translated (values this host's train shard
        lacked stay missing). Returns None when this host has no training rows and leaves.
        """
        if len(self.hosts) == 1:
            return channels
        replicated = {
            name
            for name in channels
            if (input_config.get(name) or {}).get("S3DistributionType", REPLICATED) == REPLICATED
        }
        train = channels.get("train")
        if train is not None and "train" in replicated:
            train = slice_rows(train, self.hosts.index(self.current), len(self.hosts))
        s = self.settings
        self.addresses = {h: resolve(h, s.resolve_timeout) for h in self.hosts}
        self._listener = rollcall.listen(s.port)
        server = None
        if self.current == self.hosts[0]:
            server = rollcall.Server(self._listener, self.hosts, s.timeout)
        message = {
            "host": self.current,
            "rows": 0 if train is None else train.num_rows,
            "schema": None if train is None else asdict(train.schema),
            "channels": sorted(n for n in channels if n != "train"),
        }
        try:
            reports = rollcall.report(self.addresses[self.hosts[0]], s.port, message, s.timeout)
        finally:
            if server is not None:
                # Every host has its answer before this one moves on (or leaves).
                server.thread.join(timeout=30)
        self._inbox = rollcall.Inbox(self._listener)
        self.participants = [r["host"] for r in reports if r["rows"] > 0]
        if not self.participants:
            raise UserError(f"no host has training rows (hosts: {', '.join(self.hosts)})")
        rows = ", ".join(f"{r['host']}={r['rows']}" for r in reports)
        log.info("roll call: train rows %s; participants %s", rows, self.participants)
        if train is None:
            log.info("%s has no training rows: it leaves the training", self.current)
            return None
        schema = merge_schemas([_schema_from(r["schema"]) for r in reports if r["rows"] > 0])
        if reload is not None and schema != train.schema:
            log.info("hosts read different categories: reading the channels again with the union")
            channels = reload(schema)
            train = channels["train"]
            if "train" in replicated:
                train = slice_rows(train, self.hosts.index(self.current), len(self.hosts))
            assert train is not None
        # Every participant must build the same matrices (XGBoost syncs each one), so a
        # channel that any participant has exists everywhere, empty where it has no rows.
        names = sorted({n for r in reports if r["rows"] > 0 for n in r["channels"]})
        out = {"train": apply_schema(train, schema)}
        for name in names:
            dataset = channels.get(name)
            if dataset is not None and name in replicated:
                dataset = slice_rows(dataset, self.rank, self.world)
            out[name] = apply_schema(dataset or empty_like(out["train"]), schema)
        if self.is_coordinator and self.distributed:
            self._start_tracker()
        return out

    def _start_tracker(self) -> None:
        s = self.settings
        self._tracker = RabitTracker(
            n_workers=self.world,
            host_ip=self.addresses[self.current],
            port=s.tracker_port,
            sortby="task",
            timeout=s.timeout,
        )
        self._tracker.start()

    def worker_args(self) -> dict[str, Any]:
        s = self.settings
        args: dict[str, Any] = {
            "dmlc_communicator": "rabit",
            "dmlc_tracker_uri": self.addresses[self.participants[0]],
            "dmlc_tracker_port": s.tracker_port,
            "dmlc_task_id": f"{self.rank:06d}",
            "dmlc_timeout": s.timeout,
            "dmlc_retry": 6,
        }
        if s.worker_port:
            args["dmlc_worker_port"] = s.worker_port
        return args

    # -- training -------------------------------------------------------------

    @contextmanager
    def collective(self) -> Iterator[None]:
        """Run the body inside XGBoost's communicator (a no-op on one participant).

        When the body fails because a peer is gone (or XGBoost's communication broke),
        the error becomes a ``UserError`` naming the hosts that no longer answer.
        """
        started, cpu = time.monotonic(), time.process_time()
        if not self.distributed:
            yield
            self._log_phase(started, cpu)
            return
        try:
            collective.init(**self.worker_args())
            self._active = True
            if collective.get_rank() != self.rank:
                raise UserError(f"tracker gave rank {collective.get_rank()}, expected {self.rank}")
            yield
            self._log_phase(started, cpu)
        except Exception as exc:
            self._failed_at = time.monotonic()
            lost = self._lost_peers()
            if lost or _is_communication_error(exc):
                lost = self._tell_and_compare(lost)
                reason = self._lost_reason(exc, lost, self._failed_at - started)
                raise UserError(reason) from None
            raise
        finally:
            self._finish()

    def _log_phase(self, started: float, cpu: float) -> None:
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
        log.info(
            "training phase on %s (rank %d of %d): %.2f s wall, %.2f s CPU",
            self.current,
            self.rank,
            self.world,
            wall,
            cpu,
        )

    def _finish(self) -> None:
        failed = self._failed_at is not None
        if self._active:
            self._active = False
            # After a failure, finalizing would retry the (maybe unreachable) tracker: skip it.
            if not failed:
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

    def _lost_peers(self) -> list[str]:
        peers = [h for h in self.participants if h != self.current]
        with ThreadPoolExecutor(len(peers)) as pool:
            up = list(
                pool.map(lambda h: rollcall.alive(self.addresses[h], self.settings.port), peers)
            )
        return [h for h, ok in zip(peers, up, strict=True) if not ok]

    def _tell_and_compare(self, lost: list[str]) -> list[str]:
        """Tell the peers still alive which hosts this one found lost; then drop from
        ``lost`` the hosts that said the same of another (they stopped, they were not
        lost), adding the hosts they named."""
        note = {"host": self.current, "lost": lost}
        alive = [h for h in self.participants if h != self.current and h not in lost]
        with ThreadPoolExecutor(max(1, len(alive))) as pool:
            for host in alive:
                pool.submit(rollcall.notify, self.addresses[host], self.settings.port, note)
        time.sleep(0.5)  # notes sent just before a peer's exit are read by now
        notes = dict(self._inbox.notes) if self._inbox else {}
        named = {h for n in notes.values() for h in n.get("lost", []) if h != self.current}
        return sorted(({h for h in lost if h not in notes} | named) - set(notes))

    def _lost_reason(self, exc: BaseException, lost: list[str], elapsed: float) -> str:
        text = str(exc.__context__ if isinstance(exc, UserError) and exc.__context__ else exc)
        lines = [ln.split("]: ", 1)[-1] for ln in text.splitlines() if ln.startswith("- [")]
        detail = lines[-1] if lines else text.splitlines()[0] if text else type(exc).__name__
        who = f"host(s) {', '.join(lost)} lost" if lost else "a peer failed"
        return (
            f"distributed training broke off on {self.current} after {elapsed:.0f} s: {who} "
            f"({detail}; hosts {', '.join(self.participants)}, timeout {self.settings.timeout} s)"
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

    # -- exchange -------------------------------------------------------------

    def allreduce_sum(self, values: np.ndarray) -> np.ndarray:
        """Element-wise sum over participants (inside ``collective()``)."""
        if not self.distributed:
            return values
        return collective.allreduce(np.asarray(values, dtype=np.float64), collective.Op.SUM)

    def gather(self, values: np.ndarray) -> np.ndarray:
        """Rows of every participant concatenated in rank order (inside ``collective()``)."""
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

    def gather_dataset(self, dataset: Dataset) -> Dataset:
        """A channel's rows of every participant, for evaluation on the coordinator."""
        if not self.distributed:
            return dataset
        if sp.issparse(dataset.X):
            csr = sp.csr_matrix(dataset.X)
            lengths = self.gather(np.diff(csr.indptr))
            X = sp.csr_matrix(
                (self.gather(csr.data), self.gather(csr.indices), np.r_[0, np.cumsum(lengths)]),
                shape=(int(lengths.size), csr.shape[1]),
            )
        else:
            X = self.gather(dataset.X)
        weight = None if dataset.weight is None else self.gather(dataset.weight)
        return replace(dataset, X=X, y=self.gather(dataset.y), weight=weight)

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
    def __init__(self, cluster: Cluster, callback: Any) -> None:
        super().__init__()
        self.cluster = cluster
        self.callback = callback

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict) -> bool:
        flag = np.array([1.0 if self.callback.requested else 0.0])
        if self.cluster.allreduce_sum(flag)[0] > 0:
            self.callback.requested = True
        return bool(self.callback.requested)
