"""Item 7 of the security issue: the RPC client and the service clients facing a hostile server.

Before: a server dripping a byte every 3 s held a 10 s call for 67 s; a 300 MB answer took the client
to 1.5 GB; a reply with another id was taken; NaN, Infinity and deep nesting surfaced as raw
``RecursionError``/``TypeError``; an error body's extra keys were set as attributes on the exception.
After: each is bounded or refused with an error of the toolkit's tree."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from btcmicro.core.errors import BtcmicroError, NodeError, NodeUnavailable, ProtocolError, ServiceUnavailable
from btcmicro.node.rpc import RPCClient
from btcmicro.service.client import ServiceClient

Handler = Callable[[socket.socket, bytes], None]


class RawServer:
    """A TCP server answering every HTTP request with ``handler(conn, request_body)``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    body += conn.recv(65536)
                self.handler(conn, body)
            except OSError:
                pass

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


Serve = Callable[[Handler], "RawServer"]


def answer(conn: socket.socket, body: bytes, status: str = "200 OK") -> None:
    conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                 f"Connection: close\r\n\r\n".encode() + body)


def drip(conn: socket.socket, body: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        time.sleep(0.2)
        conn.sendall(b" ")


def drip_headers(conn: socket.socket, body: bytes) -> None:
    for b in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}":
        time.sleep(0.2)
        conn.sendall(bytes([b]))


def huge_declared(conn: socket.socket, body: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 300000000\r\n\r\n")
    conn.sendall(b"[" + b"0," * 100_000)


def huge_chunked(conn: socket.socket, body: bytes) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"0," * 32_768
    for _ in range(200):  # 13 MB unless the client hangs up first
        conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")


def rpc_reply(make: Callable[[int], bytes]) -> Handler:
    def handler(conn: socket.socket, body: bytes) -> None:
        answer(conn, make(json.loads(body)["id"]))
    return handler


@pytest.mark.parametrize("handler", [drip, drip_headers], ids=["body", "headers"])
def test_rpc_client_timeout_bounds_the_whole_request_against_a_dripping_server(serve: Serve, handler: Handler) -> None:
    srv = serve(handler)
    with RPCClient(srv.url, timeout=1.0) as rpc:
        t0 = time.monotonic()
        with pytest.raises(NodeUnavailable):
            rpc.call("getblockcount")
        assert time.monotonic() - t0 < 1.8  # before the fix: 1,000 bytes x 0.2 s = 200 s


def test_service_client_timeout_bounds_the_whole_request_against_a_dripping_server(serve: Serve) -> None:
    srv = serve(drip)
    with ServiceClient(srv.url, timeout=1.0) as client:
        t0 = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            client.get("/board/head")  # idempotent: not retried past the deadline either
        assert time.monotonic() - t0 < 1.8


@pytest.mark.parametrize("handler", [huge_declared, huge_chunked], ids=["declared", "chunked"])
def test_clients_refuse_an_answer_over_their_size_cap(serve: Serve, handler: Handler) -> None:
    srv = serve(handler)
    with RPCClient(srv.url, timeout=5.0, max_response_bytes=1_000_000) as rpc, pytest.raises(NodeError) as ei:
        rpc.call("getblock", "00" * 32, 2)
    assert not isinstance(ei.value, NodeUnavailable) and "over 1000000" in str(ei.value)
    with ServiceClient(srv.url, timeout=5.0, max_answer_bytes=1_000_000) as client, \
            pytest.raises(ProtocolError) as pe:
        client.get("/board")
    assert pe.value.code == "ANSWER_TOO_LARGE"


@pytest.mark.parametrize("reply", [
    lambda i: b'{"result": 5, "error": null, "id": %d}' % (i + 1),  # another request's answer
    lambda i: b'{"result": 5, "error": null}',  # no id
    lambda i: b'{"result": 5, "error": null, "id": "%d"}' % i,  # the id as a string
    lambda i: b'{"result": NaN, "error": null, "id": %d}' % i,
    lambda i: b'{"result": [Infinity], "error": null, "id": %d}' % i,
    lambda i: b'{"result": ' + b"[" * 100_000 + b"]" * 100_000 + b', "error": null, "id": %d}' % i,
    lambda i: b'{"result": null, "error": {"code": [1], "message": {"a": 1}}, "id": %d}' % i,
    lambda i: b'[1, 2, 3]',
    lambda i: b'"just a string"',
], ids=["other-id", "no-id", "string-id", "nan", "infinity", "nesting", "odd-error", "list", "string"])
def test_rpc_client_refuses_a_malformed_answer_with_its_own_error(serve: Serve, reply: Callable[[int], bytes]) -> None:
    srv = serve(rpc_reply(reply))
    with RPCClient(srv.url, timeout=5.0) as rpc, pytest.raises(NodeError):
        rpc.call("getblockcount")


def test_service_client_never_sets_a_peers_keys_as_attributes(serve: Serve) -> None:
    body = json.dumps({"error": {"code": "NOPE", "detail": "no", "status": 200, "code2": "x", "__class__": "str",
                                 "args": ["owned"], "with_traceback": 1, "entry": "AAAA",
                                 "expected_value": 7, "nested": {"a": 1}}}).encode()
    srv = serve(lambda conn, _: answer(conn, body, "400 Bad Request"))
    with ServiceClient(srv.url, timeout=5.0) as client, pytest.raises(ProtocolError) as ei:
        client.get("/x")
    e = ei.value
    assert (e.code, e.detail, getattr(e, "status", None)) == ("NOPE", "no", 400)  # the real status, not the body's
    assert type(e) is ProtocolError and "owned" not in e.args and callable(e.with_traceback)
    assert not hasattr(e, "code2") and not hasattr(e, "entry") and not hasattr(e, "nested")
    assert e.extra == {"status": 200, "code2": "x", "__class__": "str", "with_traceback": 1,  # type: ignore[attr-defined]
                       "entry": "AAAA", "expected_value": 7}
    assert e.expected_value == 7  # type: ignore[attr-defined]  # the one field the channel protocol defines


@pytest.mark.parametrize("body", [b'{"a": NaN}', b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe"])
def test_service_client_refuses_non_json_answers_with_its_own_error(serve: Serve, body: bytes) -> None:
    srv = serve(lambda conn, _: answer(conn, body))
    with ServiceClient(srv.url, timeout=5.0) as client, pytest.raises(BtcmicroError):
        client.get("/x")
