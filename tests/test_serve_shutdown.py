"""SIGTERM under load: stop accepting, finish the requests in flight, exit 0 with every worker
leaving on its own (none killed at gunicorn's graceful timeout).

Every wait is on a condition with a generous deadline: on a loaded machine the steps are slow,
not different. The load stops at its first refusal after SIGTERM, so that it never spins
while the server shuts down.
"""

from __future__ import annotations

import socket
import threading
import time

import requests
from serve_harness import Server, train_numeric

DEADLINE_S = 180  # for each wait; none of them is a measurement


def raw_request(port: int, body: bytes) -> socket.socket:
    """Send a whole POST /invocations on a fresh connection; the answer is read later."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
    head = (
        "POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def test_sigterm_finishes_in_flight_requests_under_load(tmp_path):
    base = tmp_path / "ml"
    train_numeric(base, "binary:logistic", n_features=5)
    server = Server(base, tmp_path / "serve.log", workers=2).wait_ready(timeout=DEADLINE_S)
    small = "\n".join(["1,2,3,4,5"] * 50) + "\n"
    big_rows = 120_000
    # Plain numbers (the C reader): a body with missing cells takes the per-cell reader, which
    # on a loaded 2-core machine can outlast the 20 s that SIGTERM leaves for the request.
    big = ("0.5,1.5,-2.5,2.5,3\n" * big_rows).encode()
    outcomes: list[tuple[str, int]] = []
    stop = threading.Event()
    terminated = threading.Event()

    def load() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    answer = session.post(
                        server.url("/invocations"),
                        data=small,
                        headers={"Content-Type": "text/csv"},
                        timeout=DEADLINE_S,
                    )
                except requests.ConnectionError:
                    outcomes.append(("refused", 0))
                    if terminated.is_set():
                        return
                    stop.wait(0.05)
                    continue
                lines = len(answer.text.splitlines())
                outcomes.append(("answer", answer.status_code if lines == 50 else -lines))

    threads = [threading.Thread(target=load) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        in_flight = raw_request(server.port, big)
        client = in_flight.getsockname()
        # Stop once the load runs and the server (nginx, or a worker) holds the big request.
        deadline = time.monotonic() + DEADLINE_S
        while len(outcomes) < 20 or not server.holds(client):
            assert time.monotonic() < deadline, "the load or the big request never arrived"
            time.sleep(0.01)
        terminated.set()
        server.proc.terminate()
        answer = read_all(in_flight)
        code = server.proc.wait(timeout=DEADLINE_S)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=DEADLINE_S)
        server.stop()
    assert code == 0, server.log
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert len(body.splitlines()) == big_rows
    answers = [status for kind, status in outcomes if kind == "answer"]
    assert answers and set(answers) == {200}, set(answers)
    assert "Handling signal: term" in server.log
    # Each worker finished its request and left by itself (gunicorn would otherwise SIGKILL it
    # after its graceful timeout, 20 s, and log it).
    assert server.log.count("Worker exiting") == 2, server.log
    assert "SIGKILL" not in server.log and "WORKER TIMEOUT" not in server.log, server.log
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", server.port)) != 0
