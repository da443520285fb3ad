"""The embedded engine's JSON-RPC server: bad input gets Core-shaped errors and the
engine keeps serving; chain state survives a restart (issue 3)."""
from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from btcmicro.node.engine import EmbeddedNode
from btcmicro.node.rpc import RPCClient, read_cookie

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(tmp_path):
    node = EmbeddedNode(tmp_path / "chain").start()
    yield node
    node.stop()


@pytest.fixture
def http(engine):
    with httpx.Client(base_url=engine.url, auth=read_cookie(engine.cookie_path), timeout=30) as client:
        yield client


def post(http, body, **kw):
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    return http.post("/", content=body, **kw)


def assert_serving(http):
    r = post(http, {"method": "getblockcount", "params": [], "id": 9})
    assert r.status_code == 200 and r.json()["result"] >= 0


@pytest.mark.parametrize(
    "request_body, status, code, message",
    [
        ({"method": "sendrawtransaction", "params": ["zz"], "id": 1}, 500, -22,
         "TX decode failed. Make sure the tx has at least one input."),
        ({"method": "sendrawtransaction", "params": ["0100"], "id": 1}, 500, -22,
         "TX decode failed. Make sure the tx has at least one input."),
        ({"method": "decodescript", "params": ["xyz"], "id": 1}, 500, -8, None),
        ({"method": "nosuchmethod", "params": [], "id": 1}, 404, -32601, "Method not found"),
        ({"method": "getblockhash", "params": ["ten"], "id": 1}, 500, -3,
         "JSON value of type string is not of expected type number"),
        ({"method": "getblockhash", "params": [1, 2], "id": 1}, 500, -1, None),
        ({"method": "getblockhash", "params": {"heigth": 1}, "id": 1}, 500, -8, "Unknown named parameter heigth"),
        ({"method": "getblockhash", "params": [99999], "id": 1}, 500, -8, "Block height out of range"),
        ({"method": "getblock", "params": ["00" * 32], "id": 1}, 500, -5, "Block not found"),
        ({"method": "getrawtransaction", "params": ["00" * 32], "id": 1}, 500, -5, None),
        ({"method": "getmempoolentry", "params": ["00" * 32], "id": 1}, 500, -5, "Transaction not in mempool"),
        ({"method": "generatetoaddress", "params": [1, "notanaddress"], "id": 1}, 500, -5, "Error: Invalid address"),
        ({"method": "setmocktime", "params": [-1], "id": 1}, 500, -8, None),
        ({"method": 42, "id": 1}, 400, -32600, None),
    ],
)
def test_bad_requests_get_core_shaped_errors(http, request_body, status, code, message):
    r = post(http, request_body)
    assert r.status_code == status
    body = r.json()
    assert body["result"] is None and body["id"] == request_body.get("id")
    assert body["error"]["code"] == code
    if message is not None:
        assert body["error"]["message"] == message
    assert_serving(http)


def test_garbage_json_is_a_parse_error(http):
    r = post(http, b"{not json")
    assert r.status_code == 500
    assert r.json()["error"] == {"code": -32700, "message": "Parse error"}
    assert_serving(http)


def test_jsonrpc_2_errors_are_http_200_and_notifications_204(http):
    r = post(http, {"jsonrpc": "2.0", "method": "nosuch", "id": 3})
    assert r.status_code == 200
    assert r.json() == {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 3}
    r = post(http, {"jsonrpc": "2.0", "method": "getblockcount"})
    assert r.status_code == 204
    r = post(http, {"jsonrpc": "2.0", "method": "getblockcount", "id": 4})
    assert r.json() == {"jsonrpc": "2.0", "result": 0, "id": 4}


def test_batch_answers_each_request(http):
    r = post(http, [{"method": "getblockcount", "id": 1}, {"method": "nosuch", "id": 2}, 7])
    assert r.status_code == 200
    replies = r.json()
    assert replies[0]["result"] == 0
    assert replies[1]["error"]["code"] == -32601
    assert replies[2]["error"]["code"] == -32600


def test_wrong_credentials_are_401_and_no_credentials_too(engine, http):
    user, _ = read_cookie(engine.cookie_path)
    r = httpx.post(engine.url, content=b'{"method":"getblockcount"}', auth=(user, "wrong"))
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    r = httpx.post(engine.url, content=b'{"method":"getblockcount"}')
    assert r.status_code == 401
    r = httpx.post(engine.url, content=b'{"method":"getblockcount"}',
                   headers={"Authorization": "Basic !!!notbase64"})
    assert r.status_code == 401
    assert_serving(http)


def test_get_is_refused(http):
    assert http.get("/").status_code == 405
    assert_serving(http)


def test_oversized_body_refused_without_reading_it(engine, http):
    user, password = read_cookie(engine.cookie_path)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    host, port = engine.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            f"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n"
            f"Content-Length: {64 * 1024 * 1024}\r\n\r\n".encode()
        )
        reply = s.recv(1024)
    assert reply.startswith(b"HTTP/1.1 413")
    assert_serving(http)


def test_half_sent_request_does_not_stop_others(engine, http):
    host, port = engine.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n")  # never finished
        assert_serving(http)


def test_state_survives_restart(tmp_path):
    datadir = tmp_path / "chain"
    with EmbeddedNode(datadir) as node:
        rpc = RPCClient(node.url, cookie_file=node.cookie_path)
        hashes = rpc.generatetodescriptor(12, "raw(51)")
        rpc.close()
    with EmbeddedNode(datadir) as node:
        rpc = RPCClient(node.url, cookie_file=node.cookie_path)
        assert rpc.getblockcount() == 12
        assert rpc.getbestblockhash() == hashes[-1]
        coinbase = rpc.getblock(hashes[0], 2)["tx"][0]["txid"]
        assert rpc.getrawtransaction(coinbase, True)["blockhash"] == hashes[0]
        assert rpc.gettxout(coinbase, 0)["confirmations"] == 12
        rpc.close()


def test_second_engine_on_same_datadir_is_refused(tmp_path):
    with EmbeddedNode(tmp_path / "chain"), pytest.raises(RuntimeError):  # the kernel holds the datadir lock
        EmbeddedNode(tmp_path / "chain").start()


def test_stop_closes_open_keep_alive_connections(tmp_path):
    node = EmbeddedNode(tmp_path / "chain").start()
    client = httpx.Client(base_url=node.url, auth=read_cookie(node.cookie_path))
    assert post(client, {"method": "getblockcount", "id": 1}).status_code == 200  # connection kept alive
    threads = list(node._server._connections.values())
    assert len(threads) == 1 and threads[0].is_alive()
    node.stop()
    assert not threads[0].is_alive()
    with pytest.raises(httpx.TransportError):
        post(client, {"method": "getblockcount", "id": 2})
    client.close()


def test_refused_request_body_is_never_parsed_as_a_request(engine, http):
    user, _ = read_cookie(engine.cookie_path)
    with httpx.Client(auth=(user, "wrong")) as bad:
        body = b'GARBAGE / HTTP/1.1\r\n\r\n'  # would be a 501 if read as the next request
        assert bad.post(engine.url, content=body).status_code == 401
        assert bad.post(engine.url, content=body).status_code == 401
    assert_serving(http)


# ------------------------------------------------------------ under load (issue 13)
def _hostport(node):
    host, port = node.url.removeprefix("http://").split(":")
    return host, int(port)


def _request(token: str | None, body: bytes = b'{"method":"getblockcount","id":1}') -> bytes:
    auth = f"Authorization: Basic {token}\r\n" if token else ""
    return (f"POST / HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _token(node) -> str:
    user, password = read_cookie(node.cookie_path)
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` (polled, never slept)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
        return True
    except TimeoutError:
        return False
    except OSError:
        return True


def test_200_simultaneous_connections_are_all_answered(engine):
    token = _token(engine)
    start = time.monotonic()
    socks = [socket.create_connection(_hostport(engine), timeout=30) for _ in range(200)]
    try:
        for s in socks:  # all 200 open at once, then every one asks
            s.sendall(_request(token))
        answered = 0
        for s in socks:
            reply = b""
            while b"\r\n\r\n" not in reply:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
            answered += reply.startswith(b"HTTP/1.1 200")
    finally:
        for s in socks:
            s.close()
    elapsed = time.monotonic() - start
    print(f"200 simultaneous connections: {answered} answered in {elapsed:.2f} s")
    assert answered == 200


def _vm(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])  # kB
    raise AssertionError(f"no {field}")


def test_unauthenticated_huge_bodies_do_not_grow_memory(tmp_path):
    """16 connections each announcing and sending 32 MiB without credentials: each is refused from
    its headers (401) and its body is never held, so the engine's resident memory stays put."""
    proc = subprocess.Popen([sys.executable, "-m", "btcmicro.node.engine", "--datadir", str(tmp_path / "chain")],
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        host, port = ready["url"].removeprefix("http://").split(":")
        with RPCClient(ready["url"], cookie_file=ready["cookie_file"]) as rpc:
            rpc.getblockcount()
            before = _vm(proc.pid, "VmRSS")
            chunk = b"x" * (1 << 20)
            statuses: list[bytes] = []

            def flood() -> None:
                with socket.create_connection((host, int(port)), timeout=30) as s:
                    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (32 << 20))
                    try:
                        for _ in range(32):
                            s.sendall(chunk)
                    except OSError:
                        pass  # the engine closed the connection rather than read 32 MiB
                    try:
                        statuses.append(s.recv(64)[:12])
                    except OSError:
                        statuses.append(b"reset")

            threads = [threading.Thread(target=flood) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert rpc.getblockcount() == 0  # still serving
            after, peak = _vm(proc.pid, "VmRSS"), _vm(proc.pid, "VmHWM")
        print(f"engine RSS {before / 1024:.1f} MB before, {after / 1024:.1f} MB after, "
              f"peak {peak / 1024:.1f} MB; answers {sorted(set(statuses))}")
        assert len(statuses) == 16
        assert after - before < 8 * 1024 and peak - before < 8 * 1024
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_unauthenticated_request_refused_before_its_body_is_read(engine):
    with socket.create_connection(_hostport(engine), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")  # no body sent
        assert s.recv(1024).startswith(b"HTTP/1.1 401")


def test_header_and_idle_timeouts_close_silent_connections(tmp_path):
    with EmbeddedNode(tmp_path / "chain", idle_timeout=1.0, header_timeout=1.0) as node:
        conns = [socket.create_connection(_hostport(node), timeout=10) for _ in range(3)]
        try:
            idle, half, slow = conns
            half.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            slow.sendall(_request(_token(node))[:-5])  # body never finished
            for s in (idle, half, slow):
                assert _closed_within(s, 10), "a silent connection was kept open"
        finally:
            for s in conns:
                s.close()
        with RPCClient(node.url, cookie_file=node.cookie_path) as rpc:
            assert rpc.getblockcount() == 0


def test_oversized_headers_get_431(engine, http):
    with socket.create_connection(_hostport(engine), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(20)) + b"\r\n")
        assert s.recv(1024).startswith(b"HTTP/1.1 431")
    assert_serving(http)


def test_connections_beyond_the_cap_get_503_with_retry_after(tmp_path):
    with EmbeddedNode(tmp_path / "chain", max_connections=4) as node:
        held = [socket.create_connection(_hostport(node), timeout=10) for _ in range(4)]
        try:
            with RPCClient(node.url, cookie_file=node.cookie_path) as rpc:
                for s in held:  # make sure the four are being served
                    s.sendall(_request(_token(node)))
                    assert s.recv(4096).startswith(b"HTTP/1.1 200")
                with socket.create_connection(_hostport(node), timeout=10) as extra:
                    reply = extra.recv(1024)
                assert reply.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in reply
        finally:
            for s in held:
                s.close()
        with RPCClient(node.url, cookie_file=node.cookie_path) as rpc:  # room again once they close
            deadline = time.monotonic() + 10
            while True:
                try:
                    assert rpc.getblockcount() == 0
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise


def test_unauthenticated_get_with_a_huge_body_is_not_read(engine, http):
    with socket.create_connection(_hostport(engine), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 33554432\r\n\r\n")  # 32 MiB announced, none sent
        assert s.recv(1024).startswith(b"HTTP/1.1 405")
    assert_serving(http)
