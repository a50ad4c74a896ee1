"""nginx in front of gunicorn: slow clients cost nginx a connection, never a worker.

``serve`` starts and supervises one process tree: nginx (buffering each request whole, then
passing it on) and gunicorn (forked from ``serve`` after it checked the model) behind it on a
unix socket. On SIGTERM nginx stops accepting and finishes what it holds, then gunicorn
stops; the exit code is 0 when both drained in time.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("xgb_container.serve")

SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}
PR_SET_PDEATHSIG = 1

CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
worker_shutdown_timeout {graceful}s;
pid {run}/nginx.pid;
error_log stderr warn;
{user}
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    client_max_body_size {max_body};
    client_body_buffer_size {body_buffer};
    client_header_timeout 60s;
    client_body_timeout 60s;
    send_timeout 60s;
    keepalive_timeout 75s;
    upstream model_server {{
        server unix:{socket};
    }}
    server {{
        listen {listen};
        location / {{
            proxy_pass http://model_server;
            proxy_request_buffering on;
            proxy_buffering on;
            proxy_buffer_size 64k;
            proxy_buffers 32 64k;
            proxy_read_timeout {read_timeout}s;
            proxy_set_header Host $http_host;
            proxy_redirect off;
        }}
        error_page 413 @too_large;
        location @too_large {{
            default_type text/plain;
            return 413 "the body is larger than SAGEMAKER_MAX_PAYLOAD_IN_MB ({max_mb} MiB)\\n";
        }}
        error_page 502 503 504 @unavailable;
        location @unavailable {{
            default_type text/plain;
            return 503 "the model server is not answering; try again\\n";
        }}
    }}
}}
"""


def find_nginx() -> str | None:
    """The nginx binary (``SERVE_NGINX``, else PATH, then Debian's /usr/sbin), or ``None``."""
    named = os.environ.get("SERVE_NGINX")
    if named:
        return shutil.which(named)
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


@dataclass(frozen=True)
class FrontEnd:
    """What the front end needs: where to listen, the body limit and the worker timeout."""

    host: str
    port: int
    max_body: int
    max_mb: float
    timeout: int
    graceful: int

    def config(self, run: Path, sock: Path, port: int) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        root = os.geteuid() == 0  # nginx's workers then run as nobody: the folder admits them
        return CONFIG.format(
            run=run,
            user="user nobody nogroup;" if root else "",
            max_body=self.max_body,
            body_buffer=min(self.max_body, 8 << 20),
            socket=sock,
            listen=f"{host}:{port}",
            read_timeout=self.timeout + 10,
            max_mb=f"{self.max_mb:g}",
            graceful=self.graceful,
        )


def close_upstream(worker, req, environ, resp) -> None:  # noqa: ANN001 - gunicorn's hook
    """gunicorn's ``post_request`` hook behind the front end: once the whole answer is
    written, read what the app left of the request body, then close the unix socket.

    gunicorn's own close (RFC 9112, 9.6) half-closes and waits for the peer to close first,
    which spares a TCP client a reset. nginx has sent the whole request by then, so behind
    it that wait only costs a poll and two context switches per request (about 0.1 ms of CPU
    per 1-row request here, nginx's part included), and the bytes an app left unread (a
    wrong route's body) could still make nginx log a reset. An answer that is not complete
    (an error still to be written, a streamed body) is left to gunicorn's close."""
    if resp is None or not resp.headers_sent or resp.response_length is None:
        return
    if resp.sent < resp.response_length:
        return
    try:
        while req.body.read(1 << 16):  # in pieces: a large body is never held whole
            pass
    except Exception:  # noqa: BLE001 - gunicorn's own close handles the connection then
        return
    resp.sock.close()


def _child_setup() -> None:
    """In each child before exec: default signal mask; die with the supervisor."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait(proc: subprocess.Popen | Forked, seconds: float) -> int | None:
    """Wait for ``proc`` up to ``seconds`` (SIGCHLD is blocked: poll on it); its exit code."""
    deadline = time.monotonic() + seconds
    while proc.poll() is None:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        signal.sigtimedwait({signal.SIGCHLD}, min(left, 0.1))
    return proc.returncode


def _stop(proc: subprocess.Popen | Forked, sig: signal.Signals, seconds: float) -> bool:
    """Send ``sig``; True if ``proc`` ended within ``seconds`` (else it is killed)."""
    if proc.poll() is None:
        proc.send_signal(sig)
    if _wait(proc, seconds) is not None:
        return True
    proc.kill()
    proc.wait()
    return False


def _reap_strays(ours: set[int]) -> None:
    """As PID 1 of a container, reap orphans that were handed to us (never our own)."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid in ours:
            return
        os.waitpid(info.si_pid, 0)


class Forked:
    """A child process running ``target`` (its return value is the exit code), with the part
    of ``subprocess.Popen``'s interface the supervisor uses."""

    def __init__(self, target: Callable[[], int]) -> None:
        self.returncode: int | None = None
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns into the supervisor's code
            code = 1
            try:
                _child_setup()
                code = target()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self) -> int:
        while self.poll() is None:
            signal.sigtimedwait({signal.SIGCHLD}, 0.1)
        return self.returncode


def run(front: FrontEnd, nginx: str, serve_on: Callable[[Path], int]) -> int:
    """Run nginx and, in a forked child, ``serve_on(unix socket)`` (gunicorn) until SIGTERM
    (0 once both drained) or until one fails."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    # /tmp, not TMPDIR: nginx's worker (nobody, under root) must be able to reach the socket.
    run_dir = Path(
        tempfile.mkdtemp(prefix="xgb-serve-", dir="/tmp" if Path("/tmp").is_dir() else None)
    )
    run_dir.chmod(0o711)
    sock = run_dir / "gunicorn.sock"
    gunicorn = Forked(lambda: serve_on(sock))  # before the listener: it must not inherit it
    try:
        listener = socket.create_server((front.host, front.port), backlog=2048)
    except OSError as exc:
        log.error("cannot serve: cannot listen on %s:%d: %s", front.host, front.port, exc)
        _stop(gunicorn, signal.SIGTERM, front.graceful + 5)
        shutil.rmtree(run_dir, ignore_errors=True)
        return 1
    nginx_proc = None
    try:
        while not sock.exists():
            if gunicorn.poll() is not None:
                return gunicorn.returncode or 1
            got = signal.sigtimedwait({signal.SIGTERM, signal.SIGINT}, 0.05)
            if got is not None:
                return 0 if _stop(gunicorn, signal.SIGTERM, front.graceful + 5) else 1
        port = listener.getsockname()[1]
        conf = run_dir / "nginx.conf"
        conf.write_text(front.config(run_dir, sock, port))
        nginx_proc = subprocess.Popen(
            [nginx, "-p", str(run_dir), "-c", str(conf), "-e", "stderr"],
            env={"NGINX": f"{listener.fileno()};", "PATH": os.environ.get("PATH", "")},
            pass_fds=(listener.fileno(),),
            preexec_fn=_child_setup,
        )
        listener.close()  # nginx holds it now; once nginx stops, the port is closed
        log.info("Listening at: http://%s:%d (nginx in front of gunicorn on unix:%s)",
                 front.host, port, sock)  # fmt: skip
        return _supervise(front, nginx_proc, gunicorn)
    finally:
        listener.close()
        for proc in (nginx_proc, gunicorn):
            if proc is not None and proc.poll() is None:
                _stop(proc, signal.SIGTERM, 5)
        shutil.rmtree(run_dir, ignore_errors=True)


def _supervise(front: FrontEnd, nginx: subprocess.Popen, gunicorn: Forked) -> int:
    ours = {nginx.pid, gunicorn.pid}
    while True:
        info = signal.sigwaitinfo(SIGNALS)
        if info.si_signo == signal.SIGCHLD:
            _reap_strays(ours)
            for name, proc in (("nginx", nginx), ("gunicorn", gunicorn)):
                if proc.poll() is not None:
                    log.error("%s exited %s: stopping the server", name, proc.returncode)
                    return 1
            continue
        log.info("Handling signal %s: nginx finishes its requests, then gunicorn stops",
                 signal.Signals(info.si_signo).name)  # fmt: skip
        return _drain(front, nginx, gunicorn)


def _drain(front: FrontEnd, nginx: subprocess.Popen, gunicorn: Forked) -> int:
    """nginx first (it finishes what it holds, using gunicorn), then gunicorn, all within
    ``graceful + 5`` seconds (SageMaker kills 30 s after SIGTERM); 0 if gunicorn stopped
    cleanly."""
    began = time.monotonic()
    deadline = began + front.graceful + 5
    # nginx closes what is still open after worker_shutdown_timeout (graceful).
    if not _stop(nginx, signal.SIGQUIT, front.graceful + 2):
        log.warning("nginx did not stop in %d s and was killed", front.graceful + 2)
    elif time.monotonic() - began >= front.graceful:
        log.warning("nginx closed the connections still open after %d s", front.graceful)
    stopped = _stop(gunicorn, signal.SIGTERM, max(1.0, deadline - time.monotonic()))
    return 0 if stopped and gunicorn.returncode == 0 else 1
