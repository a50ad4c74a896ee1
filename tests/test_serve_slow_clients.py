"""Slow clients: connections that send half a request and wait must not take the server down."""

from __future__ import annotations

import socket
import time

import requests
from serve_harness import Server, train_numeric

STALLED = 8


def stall(port: int, in_body: bool) -> socket.socket:
    """A connection that sends part of a request (headers, or headers and part of the body)
    and then waits, as a slow or stuck client does."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    if in_body:
        head = (
            "POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
            "Content-Length: 100000\r\n\r\n1,2,3,4,5\n1,2,"
        )
    else:
        head = "POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"
    sock.sendall(head.encode())
    return sock


def test_stalled_connections_leave_ping_and_invocations_answering(tmp_path):
    base = tmp_path / "ml"
    train_numeric(base, "binary:logistic", n_features=5)
    # A long worker timeout: a server whose workers wait on stalled clients fails this test
    # for that reason, not because the timeout happened to free them.
    server = Server(
        base, tmp_path / "serve.log", workers=2, SAGEMAKER_MODEL_SERVER_TIMEOUT="120"
    ).wait_ready()
    stalled = [stall(server.port, in_body=i % 2 == 1) for i in range(STALLED)]
    try:
        # Every stalled connection has been accepted by the server before the probes.
        for sock in stalled:
            sock.sendall(b"")
        started = time.monotonic()
        ping = requests.get(server.url("/ping"), timeout=10)
        answer = requests.post(
            server.url("/invocations"),
            data="1,2,3,4,5\n",
            headers={"Content-Type": "text/csv"},
            timeout=10,
        )
        took = time.monotonic() - started
        assert ping.status_code == 200
        assert answer.status_code == 200, answer.text
        assert len(answer.text.splitlines()) == 1
        print(f"/ping and one 1-row request with {STALLED} stalled connections: {took:.3f} s")
    finally:
        for sock in stalled:
            sock.close()
        assert server.stop() == 0


def test_without_nginx_serve_says_so_and_runs_gunicorn_alone(tmp_path):
    base = tmp_path / "ml"
    train_numeric(base, "binary:logistic", n_features=5)
    server = Server(base, tmp_path / "serve.log", workers=1, SERVE_NGINX="/nonexistent/nginx")
    try:
        server.wait_ready()
        assert server.invoke("1,2,3,4,5\n").status_code == 200
        assert server.log.count("nginx is not installed: gunicorn alone on the port") == 1
        assert "(nginx in front of gunicorn" not in server.log
        assert not server.front_end_processes()
        assert len(server.worker_processes()) == 1
    finally:
        assert server.stop() == 0


def test_front_end_refuses_a_body_over_the_limit_with_one_line(tmp_path):
    """nginx itself answers 413 (the body never reaches a worker), with the same line."""
    base = tmp_path / "ml"
    train_numeric(base, "binary:logistic", n_features=5)
    server = Server(base, tmp_path / "serve.log", workers=1, SAGEMAKER_MAX_PAYLOAD_IN_MB="0.5")
    try:
        server.wait_ready()
        assert any(c.name() == "nginx" for c in server.front_end_processes())
        answer = server.invoke("1,2,3,4,5\n" * 60_000)
        assert answer.status_code == 413
        assert answer.text == "the body is larger than SAGEMAKER_MAX_PAYLOAD_IN_MB (0.5 MiB)\n"
        assert answer.headers["Content-Type"].startswith("text/plain")
    finally:
        assert server.stop() == 0
