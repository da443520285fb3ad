"""Every service closes connections that never complete a request (#13 item 5), and still serves
slow handlers and ordinary clients."""
from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from btcmicro.service.runner import MAX_CONNECTIONS, ServiceThread, uvicorn_config

TIMEOUT = 0.5


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "pong"}

    @app.post("/echo")
    async def echo(body: dict[str, int]) -> dict[str, int]:
        return body

    @app.get("/slow")
    def slow() -> dict[str, str]:
        time.sleep(3 * TIMEOUT)  # the handler, not the client, is slow: must not be cut off
        return {"ok": "late"}

    return app


@pytest.fixture(scope="module")
def service() -> Iterator[ServiceThread]:
    with ServiceThread(_app(), request_timeout=TIMEOUT) as svc:
        yield svc


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes ``sock`` (reads until EOF); fails if it stays open."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        pytest.fail(f"connection still open after {seconds} s")
    return time.monotonic() - start


def test_a_silent_connection_is_closed(service: ServiceThread) -> None:
    with socket.create_connection((service.host, service.port)) as sock:
        assert _closed_within(sock, 10 * TIMEOUT) >= TIMEOUT * 0.9


def test_half_sent_headers_are_closed(service: ServiceThread) -> None:
    with socket.create_connection((service.host, service.port)) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")  # no blank line: headers never end
        _closed_within(sock, 10 * TIMEOUT)


def test_a_half_sent_body_is_closed(service: ServiceThread) -> None:
    with socket.create_connection((service.host, service.port)) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"a\": ")
        _closed_within(sock, 10 * TIMEOUT)


def test_a_trickled_request_is_cut_at_the_deadline(service: ServiceThread) -> None:
    """Bytes arriving does not extend the deadline: a slowloris sending one byte at a time is closed."""
    with socket.create_connection((service.host, service.port)) as sock:
        sock.settimeout(0.05)
        start = time.monotonic()
        closed = False
        for byte in b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000:
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        assert closed and time.monotonic() - start < 10 * TIMEOUT


def test_ordinary_requests_and_keep_alive_still_work(service: ServiceThread) -> None:
    with httpx.Client(base_url=service.url) as client:
        for _ in range(3):
            assert client.get("/ping").json() == {"ok": "pong"}
        assert client.post("/echo", json={"a": 1}).json() == {"a": 1}


def test_a_slow_handler_is_not_cut_off(service: ServiceThread) -> None:
    with httpx.Client(base_url=service.url, timeout=10) as client:
        assert client.get("/slow").json() == {"ok": "late"}


def test_the_shared_settings_cap_connections() -> None:
    config = uvicorn_config(_app(), "127.0.0.1", 0)
    assert config.limit_concurrency == MAX_CONNECTIONS
    assert config.backlog >= 128
