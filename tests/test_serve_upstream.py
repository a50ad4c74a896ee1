"""gunicorn behind nginx: how each upstream connection ends.

Behind the front end a worker reads what the app left of the request body and closes the
unix socket as soon as the whole answer is written; gunicorn alone (on TCP) keeps its own
graceful close, which waits for the client to close first.
"""

from __future__ import annotations

import re
import socket

import pytest
import requests
from serve_harness import Server, train_numeric

UPSTREAM = re.compile(r"nginx in front of gunicorn on unix:(\S+?)\)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("upstream")
    train_numeric(tmp / "ml", "binary:logistic", n_features=5)
    server = Server(tmp / "ml", tmp / "serve.log", workers=1).wait_ready()
    yield server
    assert server.stop() == 0


def ask_upstream(path: str, request: bytes) -> socket.socket:
    """Send ``request`` to gunicorn's unix socket and read the answer to its end."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    sock.sendall(request)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    assert answer.split(b"\r\n", 1)[0].endswith(b" 200 OK"), answer
    return sock


def test_the_worker_has_closed_when_the_answer_ends(server):
    """With gunicorn's graceful close the worker half-closes and then waits (up to 2 s) for
    the peer to close, still reading: a byte sent after the answer would be taken in."""
    path = UPSTREAM.search(server.log).group(1)
    sock = ask_upstream(path, b"GET /ping HTTP/1.0\r\nHost: x\r\n\r\n")
    with sock, pytest.raises((BrokenPipeError, ConnectionResetError)):
        sock.sendall(b"x")
        sock.sendall(b"x")


def test_a_large_body_left_unread_is_read_before_the_close(server):
    """The app answers a wrong route or method without reading the body; the worker reads
    it before closing, so nginx never sees a reset and logs nothing. (A reset depends on
    timing: with gunicorn's own close, about one such request in six logged one here.)"""
    big = b"a" * (3 << 20)
    for path, status in [("/nothing", 404), ("/ping", 405), ("/invocations", 400)] * 10:
        answer = requests.post(
            server.url(path), data=big, headers={"Content-Type": "text/csv"}, timeout=30
        )
        assert answer.status_code == status, answer.text
    assert requests.get(server.url("/ping"), timeout=5).status_code == 200
    assert "reset by peer" not in server.log
    assert "[error]" not in server.log


class Sock:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Body:
    def __init__(self, fails: bool = False) -> None:
        self.fails = fails
        self.left = [b"x" * 10, b"y"]  # what the app left unread, in pieces
        self.read_to_end = False

    def read(self, size: int = -1) -> bytes:
        if self.fails:
            raise OSError("peer went away")
        if not self.left:
            self.read_to_end = True
            return b""
        return self.left.pop(0)


class Req:
    def __init__(self, body: Body) -> None:
        self.body = body


class Resp:
    def __init__(self, headers_sent: bool, length: int | None, sent: int) -> None:
        self.headers_sent = headers_sent
        self.response_length = length
        self.sent = sent
        self.sock = Sock()


@pytest.mark.parametrize(
    ("resp", "closes"),
    [
        (Resp(headers_sent=True, length=4, sent=4), True),
        (Resp(headers_sent=False, length=4, sent=0), False),  # an error answer still to come
        (Resp(headers_sent=False, length=0, sent=0), False),  # an empty one, not yet sent
        (Resp(headers_sent=True, length=4, sent=3), False),  # cut short
        (Resp(headers_sent=True, length=None, sent=4), False),  # streamed: gunicorn ends it
        (None, False),
    ],
)
def test_close_upstream_closes_only_a_complete_answer(resp, closes):
    from xgb_container.frontend import close_upstream

    body = Body()
    close_upstream(None, Req(body), {}, resp)
    assert body.read_to_end is closes
    if resp is not None:
        assert resp.sock.closed is closes


def test_close_upstream_leaves_a_failed_read_to_gunicorn():
    from xgb_container.frontend import close_upstream

    resp = Resp(headers_sent=True, length=4, sent=4)
    close_upstream(None, Req(Body(fails=True)), {}, resp)
    assert not resp.sock.closed
