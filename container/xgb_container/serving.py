"""The ``serve`` program: nginx in front of gunicorn worker processes running the app.

The program checks the model once and exits with a clear log line when it cannot be
served; it never predicts. With nginx (the image has it) it then supervises nginx and
gunicorn (``frontend``); without it, it says so and runs gunicorn alone on the port. Each
worker loads its own Booster after the fork (an XGBoost Booster used across fork can hang
in OpenMP) and only then takes requests.

``SERVE_FRONT_END=none`` runs gunicorn alone on the port even where nginx exists.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
from pathlib import Path

# One OpenMP thread per process, set before XGBoost (and so libgomp) loads. Workers are the
# parallelism, and it keeps fork safe: with a larger OpenMP pool, merely loading a model in
# the master made a forked worker hang in its first predict (measured with XGBoost 3.4.1).
os.environ["OMP_NUM_THREADS"] = "1"

from gunicorn.app.base import BaseApplication  # noqa: E402

from . import frontend  # noqa: E402
from .app import Served, Settings, create_app  # noqa: E402
from .cpus import available_cpus  # noqa: E402
from .errors import UserError  # noqa: E402
from .paths import Layout  # noqa: E402

log = logging.getLogger("xgb_container.serve")


def _int_env(name: str, default: int, low: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{name}={raw!r} is not a whole number") from None
    if value < low:
        raise UserError(f"{name}={value} must be at least {low}")
    return value


def gunicorn_options() -> dict[str, object]:
    """gunicorn settings from SageMaker's variables (port, workers, timeout)."""
    port = _int_env("SAGEMAKER_BIND_TO_PORT", 8080, low=0)
    host = os.environ.get("SERVE_HOST", "0.0.0.0")
    timeout = _int_env("SAGEMAKER_MODEL_SERVER_TIMEOUT", 60)
    return {
        "bind": f"{host}:{port}",
        "workers": _int_env("SAGEMAKER_MODEL_SERVER_WORKERS", available_cpus()),
        # One request at a time per worker process: measured here, the sync worker had
        # the same CPU per request as gthread (which keeps connections alive) and a p99
        # three to five times lower; threads in one worker contend for the GIL.
        "worker_class": "sync",
        "timeout": timeout,
        # SageMaker sends SIGKILL 30 s after SIGTERM: finish in-flight requests before that.
        "graceful_timeout": min(timeout, 20),
        "backlog": 2048,
        "errorlog": "-",
        "loglevel": "info",
        "control_socket_disable": True,
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
    }


class Server(BaseApplication):
    """gunicorn running ``create_app`` in each worker (the app is built after the fork)."""

    def __init__(self, layout: Layout, settings: Settings, options: dict[str, object]) -> None:
        self.layout = layout
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self):  # noqa: ANN201 - a WSGI app
        if self.settings.registry:
            log.info("worker %d serves a multi-model endpoint", os.getpid())
            return create_app(None, self.settings)
        served = Served.load(self.layout.model_dir, self.settings)
        log.info("worker %d loaded the model (%s)", os.getpid(), served.model.objective)
        return create_app(served, self.settings)


def front_end(options: dict[str, object], settings: Settings) -> frontend.FrontEnd:
    """The front end's settings from the same variables as gunicorn's."""
    host, _, port = str(options["bind"]).rpartition(":")
    return frontend.FrontEnd(
        host=host,
        port=int(port),
        max_body=settings.max_payload_bytes,
        max_mb=settings.max_payload_mb,
        timeout=int(options["timeout"]),
        graceful=int(options["graceful_timeout"]),
    )


def _nginx() -> str | None:
    """nginx when this process should start it; a one-line note when it cannot."""
    if os.environ.get("SERVE_FRONT_END", "nginx").strip().lower() == "none":
        log.info("SERVE_FRONT_END=none: gunicorn alone on the port, no buffering front end")
        return None
    found = frontend.find_nginx()
    if found is None:
        log.warning(
            "nginx is not installed: gunicorn alone on the port (slow clients hold workers)"
        )
    return found


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    layout = Layout.from_env()
    multi = os.environ.get("SAGEMAKER_MULTI_MODEL", "").lower() == "true"
    nginx = _nginx()
    if nginx is not None:  # a SIGTERM during the model check waits for the supervisor
        signal.pthread_sigmask(signal.SIG_BLOCK, frontend.SIGNALS)
    try:
        options = gunicorn_options()
        registry = tempfile.mkdtemp(prefix="xgb-models-") if multi else None
        settings = Settings.from_env(int(options["workers"]), registry)
        if not multi:
            served = Served.load(layout.model_dir, settings)
            log.info(
                "serving %s (%s, %d features) with %s workers",
                layout.model_file,
                served.model.objective,
                served.model.meta.num_features,
                options["workers"],
            )
            del served  # workers load their own after the fork
    except UserError as exc:
        log.error("cannot serve: %s", exc)
        return 1
    supervisor = os.getpid()
    try:
        if nginx is None:
            Server(layout, settings, options).run()
            return 0

        def serve_on(sock: Path) -> int:
            upstream = {"bind": f"unix:{sock}", "post_request": frontend.close_upstream}
            Server(layout, settings, {**options, **upstream}).run()
            return 0

        return frontend.run(front_end(options, settings), nginx, serve_on)
    finally:
        if registry and os.getpid() == supervisor:  # workers leave through here too
            shutil.rmtree(registry, ignore_errors=True)
