"""Client-only tests of btcmicro.node.rpc (httpx.MockTransport; no node is mocked here)."""
from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from btcmicro.core.errors import ConfigError, NodeError, NodeUnavailable
from btcmicro.node.rpc import RPCClient, btc, encode_json, is_idempotent, read_cookie, sats


def _answer(request: httpx.Request, result=None, error=None, status=200) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(status, content=json.dumps(
        {"result": result, "error": error, "id": body["id"]}).encode())


def test_encode_json_decimal_exact_and_no_float():
    assert encode_json({"a": Decimal("0.00000001"), "b": [1, True, None, "x"]}) == \
        '{"a":0.00000001,"b":[1,true,null,"x"]}'
    assert encode_json(Decimal("20999999.97690000")) == "20999999.97690000"
    assert encode_json(Decimal("1E-8")) == "0.00000001"
    assert encode_json(b"\x00\xff") == '"00ff"'
    with pytest.raises(TypeError):
        encode_json({"a": 0.1})
    with pytest.raises(ValueError):
        encode_json(Decimal("NaN"))


def test_sats_and_btc_exact():
    assert sats(Decimal("0.00000001")) == 1
    assert sats(Decimal("50.00000000")) == 5_000_000_000
    assert btc(1) == Decimal("0.00000001")
    with pytest.raises(ValueError):
        sats(Decimal("0.000000001"))


def test_call_positional_named_and_decimal_parsing():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content, parse_float=Decimal)
        seen.append(body)
        return httpx.Response(200, content=b'{"result":{"value":0.1,"n":3},"error":null,"id":%d}'
                              % body["id"])

    with RPCClient("http://127.0.0.1:1", transport=httpx.MockTransport(handler)) as rpc:
        r = rpc.gettxout("ab" * 32, 0)
        assert r == {"value": Decimal("0.1"), "n": 3}
        assert isinstance(r["value"], Decimal)
        rpc.call("scantxoutset", action="start", scanobjects=["addr(x)"])
        rpc.call("sendtoaddress", "addr", Decimal("0.30000000"))
        with pytest.raises(TypeError):
            rpc.call("x", 1, a=2)
    assert seen[0]["method"] == "gettxout" and seen[0]["params"] == ["ab" * 32, 0]
    assert seen[1]["params"] == {"action": "start", "scanobjects": ["addr(x)"]}
    assert seen[2]["params"][1] == Decimal("0.3")


def test_node_error_carries_core_code_for_http_500_and_404():
    def handler(request: httpx.Request) -> httpx.Response:
        method = json.loads(request.content)["method"]
        if method == "getblockhash":
            return _answer(request, error={"code": -8, "message": "Block height out of range"},
                           status=500)
        return _answer(request, error={"code": -32601, "message": "Method not found"},
                       status=404)

    rpc = RPCClient("http://127.0.0.1:1", transport=httpx.MockTransport(handler))
    with pytest.raises(NodeError) as e:
        rpc.getblockhash(999999)
    assert e.value.code == -8 and "out of range" in e.value.message
    with pytest.raises(NodeError) as e:
        rpc.nosuchmethod()
    assert e.value.code == -32601
    assert not isinstance(e.value, NodeUnavailable)


def test_batch_in_order_with_errors_in_place():
    def handler(request: httpx.Request) -> httpx.Response:
        reqs = json.loads(request.content)
        out = []
        for r in reversed(reqs):  # answer out of order: matched by id
            if r["method"] == "bad":
                out.append({"result": None, "error": {"code": -5, "message": "nope"},
                            "id": r["id"]})
            else:
                out.append({"result": r["params"][0], "error": None, "id": r["id"]})
        return httpx.Response(200, content=json.dumps(out).encode())

    rpc = RPCClient("http://127.0.0.1:1", transport=httpx.MockTransport(handler))
    res = rpc.batch([("echo", [1]), ("bad", []), ("echo", ["z"])])
    assert res[0] == 1 and res[2] == "z"
    assert isinstance(res[1], NodeError) and res[1].code == -5
    with pytest.raises(NodeError):
        rpc.batch([("echo", [1]), ("bad", [])], raise_errors=True)
    assert rpc.batch([]) == []


def test_wallet_endpoint_and_url_credentials():
    urls, auths = [], []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        auths.append(request.headers.get("authorization"))
        return _answer(request, result=0)

    rpc = RPCClient("http://u:p%40ss@127.0.0.1:18443", transport=httpx.MockTransport(handler))
    rpc.getblockcount()
    rpc.wallet("my wallet").getbalance()
    assert urls == ["http://127.0.0.1:18443/", "http://127.0.0.1:18443/wallet/my%20wallet"]
    expected = httpx.BasicAuth("u", "p@ss")._auth_header
    assert auths == [expected, expected]
    assert "u:p" not in repr(rpc)


def test_cookie_reread_on_401(tmp_path: Path):
    cookie = tmp_path / ".cookie"
    cookie.write_text("__cookie__:old")
    current = {"pw": "old"}
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers.get("authorization"))
        if request.headers.get("authorization") != httpx.BasicAuth(
                "__cookie__", current["pw"])._auth_header:
            return httpx.Response(401)
        return _answer(request, result=7)

    rpc = RPCClient("http://127.0.0.1:1", cookie_file=cookie,
                    transport=httpx.MockTransport(handler))
    assert rpc.getblockcount() == 7
    # the node restarts and writes a new cookie
    current["pw"] = "new"
    cookie.write_text("__cookie__:new")
    assert rpc.getblockcount() == 7
    assert len(calls) == 3
    # credentials that stay wrong: ConfigError, not an endless loop
    current["pw"] = "other"
    with pytest.raises(ConfigError):
        rpc.getblockcount()
    assert read_cookie(cookie) == ("__cookie__", "new")


def test_missing_cookie_is_node_unavailable(tmp_path: Path):
    rpc = RPCClient("http://127.0.0.1:1", cookie_file=tmp_path / "nope",
                    transport=httpx.MockTransport(lambda r: _answer(r, result=1)))
    with pytest.raises(NodeUnavailable):
        rpc.getblockcount()


def test_retry_rule_connect_error_and_dropped_reused_connection():
    state = {"n": 0, "mode": "connect"}
    methods = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(json.loads(request.content)["method"])
        state["n"] += 1
        if state["n"] == 1:
            if state["mode"] == "connect":
                raise httpx.ConnectError("refused")
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return _answer(request, result="ok")

    rpc = RPCClient("http://127.0.0.1:1", transport=httpx.MockTransport(handler))
    # connect error: nothing sent, retried for any method
    assert rpc.generatetoaddress(1, "a") == "ok"
    # dropped connection: retried for a read...
    state.update(n=0, mode="drop")
    assert rpc.getblockcount() == "ok"
    # ...but never for a state-changing call, which might have run
    state.update(n=0, mode="drop")
    with pytest.raises(NodeUnavailable):
        rpc.generatetoaddress(1, "a")
    state.update(n=0, mode="drop")
    with pytest.raises(NodeUnavailable):
        rpc.sendrawtransaction("00")
    assert methods.count("generatetoaddress") == 3


def test_persistent_failure_and_timeout_are_node_unavailable():
    def refuse(request):
        raise httpx.ConnectError("refused")

    def slow(request):
        raise httpx.ReadTimeout("timed out")

    n = {"slow": 0}

    def slow_count(request):
        n["slow"] += 1
        return slow(request)

    with pytest.raises(NodeUnavailable):
        RPCClient("http://127.0.0.1:1", transport=httpx.MockTransport(refuse)).getblockcount()
    with pytest.raises(NodeUnavailable):
        RPCClient("http://127.0.0.1:1", transport=httpx.MockTransport(slow_count)).getblockcount()
    assert n["slow"] == 1  # timeouts are never retried


def test_idempotence_table():
    for m in ("getblockcount", "getrawtransaction", "scantxoutset", "testmempoolaccept",
              "listunspent", "decoderawtransaction", "setmocktime"):
        assert is_idempotent(m), m
    for m in ("generatetoaddress", "generateblock", "sendrawtransaction", "stop", "submitblock",
              "createwallet", "sendtoaddress", "prioritisetransaction"):
        assert not is_idempotent(m), m


def test_threads_share_one_client():
    lock = threading.Lock()
    seen_ids = set()

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with lock:
            assert body["id"] not in seen_ids
            seen_ids.add(body["id"])
        return _answer(request, result=body["params"][0])

    rpc = RPCClient("http://127.0.0.1:1", transport=httpx.MockTransport(handler))
    results: dict[int, list] = {}

    def worker(t: int) -> None:
        results[t] = [rpc.echo(t * 1000 + i) for i in range(100)]

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in range(8):
        assert results[t] == [t * 1000 + i for i in range(100)]
    assert len(seen_ids) == 800


def test_bad_url_and_closed_client():
    with pytest.raises(ConfigError):
        RPCClient("127.0.0.1:18443")
    rpc = RPCClient("http://127.0.0.1:1", transport=httpx.MockTransport(lambda r: _answer(r)))
    rpc.close()
    with pytest.raises(NodeUnavailable):
        rpc.getblockcount()
