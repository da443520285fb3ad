"""Bad input as Core v31 answers it, on both engines (issue 12, "Bad input and failure"):
out-of-range mocktimes, NaN and Infinity in JSON, JSON nested thousands deep, and integer
parameters that are not integer literals. Each answer is an error reply, the node keeps
serving, and nothing changes."""
from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from btcmicro.core.errors import InvalidParameter, MiscError, NodeError
from btcmicro.node.rpc import read_cookie

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

MAX_MOCKTIME = 9_223_372_036  # Core: std::chrono::nanoseconds::max() in seconds
PARSE_ERROR = {"code": -32700, "message": "Parse error"}


@pytest.fixture
def http(node) -> Iterator[httpx.Client]:
    with httpx.Client(auth=read_cookie(node.cookie_path), timeout=60) as client:
        yield client


def _post(http: httpx.Client, node, body: str) -> httpx.Response:
    return http.post(node.url, content=body)


def _assert_serving(rpc) -> None:
    assert rpc.getblockcount() >= 0


@pytest.mark.parametrize("timestamp", [-1, MAX_MOCKTIME + 1, 2**63 - 1])
def test_out_of_range_mocktime_is_refused_and_changes_nothing(rpc, timestamp):
    before = rpc.getblockchaininfo()["time"]
    with pytest.raises(InvalidParameter) as info:
        rpc.setmocktime(timestamp)
    assert info.value.code == -8
    assert info.value.message == f"Mocktime must be in the range [0, {MAX_MOCKTIME}], not {timestamp}."
    (block,) = rpc.generatetodescriptor(1, "raw(51)")  # mining still works: no mocktime was set
    assert rpc.getblockheader(block)["time"] >= before


def test_mocktime_beyond_int64_and_non_integers_are_out_of_range(rpc, http, node):
    with pytest.raises(MiscError) as info:
        rpc.setmocktime(2**63)
    assert info.value.message == "JSON integer out of range"
    for literal in ("1.5", "1e3", "1e400"):
        r = _post(http, node, '{"method":"setmocktime","params":[' + literal + '],"id":7}')
        assert r.status_code == 500
        assert r.json()["error"] == {"code": -1, "message": "JSON integer out of range"}
    rpc.setmocktime(0)
    _assert_serving(rpc)


@pytest.mark.parametrize("body", [
    '{"method":"setmocktime","params":[NaN],"id":1}',
    '{"method":"setmocktime","params":[Infinity],"id":1}',
    '{"method":"getblockhash","params":[-Infinity],"id":1}',
    '{"method":"getblockcount","params":[],"id":NaN}',
    '[{"method":"getblockcount","params":[],"id":1}, NaN]',
])
def test_nan_and_infinity_are_parse_errors(rpc, http, node, body):
    r = _post(http, node, body)
    assert r.status_code == 500
    assert r.json() == {"result": None, "error": PARSE_ERROR, "id": None}
    _assert_serving(rpc)


@pytest.mark.parametrize("depth", [512, 5_000, 100_000])
def test_json_nested_too_deep_gets_a_parse_error_answer(rpc, http, node, depth):
    r = _post(http, node, '{"method":"getblockcount","params":' + "[" * depth + "]" * depth + ',"id":1}')
    assert r.status_code == 500
    assert r.json()["error"] == PARSE_ERROR
    _assert_serving(rpc)


def test_json_nested_to_the_limit_still_parses(rpc, http, node):
    """511 arrays in the request object: 512 levels, UniValue's limit, so the call runs (and
    fails only for its extra parameter)."""
    r = _post(http, node, '{"method":"getblockcount","params":' + "[" * 511 + "]" * 511 + ',"id":3}')
    body = r.json()
    assert body["id"] == 3 and body["error"]["code"] == -1  # getblockcount takes no parameter
    with pytest.raises(NodeError):
        rpc.getblockcount(1)
