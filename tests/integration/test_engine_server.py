"""The embedded engine's JSON-RPC server: bad input gets Core-shaped errors and the
engine keeps serving; chain state survives a restart (issue 3)."""
from __future__ import annotations

import base64
import json
import socket

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
