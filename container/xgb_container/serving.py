"""The ``serve`` program: gunicorn worker processes running the Flask app.

The master checks the model once and exits with a clear log line when it cannot be
served; it never predicts. Each worker loads its own Booster after the fork (an XGBoost
Booster used across fork can hang in OpenMP) and only then takes requests.
"""

from __future__ import annotations

import logging
import os

# One OpenMP thread per process, set before XGBoost (and so libgomp) loads. Workers are the
# parallelism, and it keeps fork safe: with a larger OpenMP pool, merely loading a model in
# the master made a forked worker hang in its first predict (measured with XGBoost 3.4.1).
os.environ["OMP_NUM_THREADS"] = "1"

from gunicorn.app.base import BaseApplication  # noqa: E402

from .app import Settings, create_app, output_fields  # noqa: E402
from .errors import UserError  # noqa: E402
from .paths import Layout  # noqa: E402
from .predictor import Model  # noqa: E402

log = logging.getLogger("xgb_container.serve")


def usable_cpus() -> int:
    """CPUs this process may run on (affinity), which is what ``nproc`` reports."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


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
        "workers": _int_env("SAGEMAKER_MODEL_SERVER_WORKERS", usable_cpus()),
        # Threads keep client connections alive between requests (the sync worker closes
        # each one); predictions release the GIL, each on one OpenMP thread.
        "worker_class": "gthread",
        "threads": 4,
        "keepalive": 75,
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
        model = Model.load(self.layout.model_dir)
        log.info("worker %d loaded the model (%s)", os.getpid(), model.objective)
        return create_app(model, self.settings)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    layout = Layout.from_env()
    try:
        options = gunicorn_options()
        settings = Settings.from_env(int(options["workers"]))
        model = Model.load(layout.model_dir)
        output_fields(settings.output, model)
    except UserError as exc:
        log.error("cannot serve: %s", exc)
        return 1
    log.info(
        "serving %s (%s, %d features) with %s workers",
        layout.model_file,
        model.objective,
        model.meta.num_features,
        options["workers"],
    )
    del model  # workers load their own after the fork
    Server(layout, settings, options).run()
    return 0
