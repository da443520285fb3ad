"""The payment-channel service on the node: every bad input over HTTP is a 4xx JSON error with
bitcoinj's code (never a 500, no stored state changed), the OpenAPI description, a v3 channel over
HTTP settled to the satoshi on chain, resume after a client restart, reconnect after a server
restart (with a payment lost in flight)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from btcmicro.channels.bitcoinj import (
    ClientConfig,
    PaymentChannelClient,
    PaymentChannelServer,
    ServerConfig,
    SQLiteClientStore,
    SQLiteServerStore,
    TransportError,
)
from btcmicro.channels.bitcoinj.messages import MAX_MESSAGE_BYTES
from btcmicro.node.chain import RPCChain
from btcmicro.node.rpc import sats
from btcmicro.service import HTTPTransport, ServiceThread, create_channel_app
from btcmicro.service.app import operator_headers

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

SERVER_CONFIG = ServerConfig(expiry_by_height=True, min_time_window_secs=600, close_margin_blocks=3,
                             close_confirmations=3)
CLIENT_CONFIG = ClientConfig(version=3, time_window_secs=6 * 3600)
DEPOSIT = 1_000_000


def usage_info(channel, amount, info):
    return json.dumps({"paid": channel.server_value, "remaining": channel.best_change, "amount": amount}).encode()


@dataclass
class Service:
    """A channel server on a file store behind HTTP on loopback, and a client on its own file store."""

    rpc: object
    wallet: object
    path: Path
    chain: RPCChain = field(init=False)
    store: SQLiteServerStore = field(init=False)
    server: PaymentChannelServer = field(init=False)
    thread: ServiceThread | None = None
    port: int = 0

    def __post_init__(self) -> None:
        self.chain = RPCChain(self.rpc)  # type: ignore[arg-type]  # the fixture hands an untyped RPC client
        self.start()

    def start(self) -> None:
        """(Re)start: a new server object on the same store file, served on the same port."""
        self.store = SQLiteServerStore(self.path / "server.db", passphrase="server secret")
        self.server = PaymentChannelServer(self.chain, self.store, config=SERVER_CONFIG, on_payment=usage_info)
        self.thread = ServiceThread(create_channel_app(self.server), port=self.port).start()
        self.port = self.thread.port

    def stop(self) -> None:
        assert self.thread is not None
        self.thread.stop()
        self.store.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def operator(self) -> dict[str, str]:
        """The header the channel listings need (the running app's operator token)."""
        assert self.thread is not None
        return operator_headers(self.thread.app.state.operator_token)

    def client(self) -> PaymentChannelClient:
        store = SQLiteClientStore(self.path / "client.db", passphrase="client secret")
        return PaymentChannelClient(HTTPTransport(self.url, timeout=10), self.chain, store, self.wallet,
                                    config=CLIENT_CONFIG)


@pytest.fixture
def service(rpc, funded, tmp_path):
    s = Service(rpc, funded, tmp_path)
    yield s
    s.stop()


def _post(http: httpx.Client, path: str, content: bytes | str | None = None, **kw) -> httpx.Response:
    return http.post(path, content=content, headers={"content-type": "application/json"}, **kw)


def _session(http: httpx.Client) -> str:
    r = http.post("/channel/sessions")
    assert r.status_code == 201
    return r.json()["session_id"]


def _error(r: httpx.Response) -> tuple[int, str]:
    assert r.headers["content-type"].startswith("application/json"), r.text
    return r.status_code, r.json()["error"]["code"]


def test_openapi_describes_routes_and_the_bitcoinj_messages(service):
    spec = httpx.get(service.url + "/openapi.json").json()
    assert set(spec["paths"]) == {"/channel", "/channel/sessions", "/channel/sessions/{session_id}/messages",
                                  "/channel/sessions/{session_id}", "/channel/channels",
                                  "/channel/channels/{deposit_txid}"}
    body = spec["paths"]["/channel/sessions/{session_id}/messages"]["post"]["requestBody"]
    schemas = body["content"]["application/json"]["schema"]["oneOf"]
    assert [s["title"] for s in schemas] == ["CLIENT_VERSION", "PROVIDE_REFUND", "PROVIDE_CONTRACT",
                                             "UPDATE_PAYMENT", "CLOSE", "ERROR", "RESUME_PROOF"]
    update = schemas[3]
    assert update["required"] == ["type", "client_change_value", "signature"]  # info is optional
    assert update["properties"]["signature"]["maxLength"] == 146 and update["additionalProperties"] is False
    terms = httpx.get(service.url + "/channel").json()
    assert terms["min_payment"] == SERVER_CONFIG.min_payment and terms["versions"] == [1, 2, 3]


def cv(**fields) -> bytes:
    """A CLIENT_VERSION body, valid for version 3 until ``fields`` change it (JSON text values)."""
    base = {"type": '"CLIENT_VERSION"', "major": "3", "minor": "0", "previous_channel_contract_hash": "null",
            "time_window_secs": "21600"}
    base.update(fields)
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in base.items() if v is not None) + "}").encode()


MALFORMED = [
    (b"not json", "SYNTAX_ERROR"),
    (b"", "SYNTAX_ERROR"),
    (b"[1, 2]", "SYNTAX_ERROR"),
    (b'{"type": "NO_SUCH_MESSAGE"}', "SYNTAX_ERROR"),
    (b'{"major": 3}', "SYNTAX_ERROR"),
    (cv(major=None), "SYNTAX_ERROR"),  # missing major
    (cv(minor=None), "SYNTAX_ERROR"),  # missing minor
    (cv(evil="1"), "SYNTAX_ERROR"),
    (cv()[:-1] + b', "major": 2}', "SYNTAX_ERROR"),  # duplicated field
    (cv(major='"3"'), "SYNTAX_ERROR"),
    (cv(major="true"), "SYNTAX_ERROR"),
    (cv(major="3.0"), "SYNTAX_ERROR"),
    (cv(major="NaN"), "SYNTAX_ERROR"),
    (cv(major="99999999999999999999999"), "SYNTAX_ERROR"),
    (cv(time_window_secs="-1"), "SYNTAX_ERROR"),
    (cv(previous_channel_contract_hash='"zz"'), "SYNTAX_ERROR"),
    (cv(previous_channel_contract_hash='"abc"'), "SYNTAX_ERROR"),
    (cv(previous_channel_contract_hash='"' + "ab" * 31 + '"'), "SYNTAX_ERROR"),  # 31 bytes, not a txid
    (b'{"type": "UPDATE_PAYMENT", "client_change_value": 5, "signature": "30", "info": null}', "SYNTAX_ERROR"),
    (json.dumps({"type": "UPDATE_PAYMENT", "client_change_value": 5, "signature": "30" * 70,
                 "info": "00" * 5000}).encode(), "SYNTAX_ERROR"),  # info over 4,096 bytes
    (b"[" * 100_000 + b"]" * 100_000, "SYNTAX_ERROR"),  # nesting deep enough to blow a recursive parser
    ("\udcff".encode("utf-8", "surrogatepass"), "SYNTAX_ERROR"),  # not UTF-8
    # well-formed but out of order: a payment on a session with no channel
    (json.dumps({"type": "UPDATE_PAYMENT", "client_change_value": 5, "signature": "30" * 70, "info": None}).encode(),
     "SYNTAX_ERROR"),
    (b'{"type": "CLOSE", "tx": null}', "SYNTAX_ERROR"),
    (cv(major="9"), "NO_ACCEPTABLE_VERSION"),
    (cv(time_window_secs="1"), "TIME_WINDOW_UNACCEPTABLE"),
]


def test_malformed_and_oversized_messages_answered_4xx_with_bitcoinj_codes_and_no_state_change(service):
    http = httpx.Client(base_url=service.url, timeout=10, headers=service.operator())  # listings are operator only
    client = service.client()
    client.open(DEPOSIT)  # a stored channel whose rows must not move
    before = service.store.dump()
    seen = []
    for body, code in MALFORMED:
        sid = _session(http)
        r = _post(http, f"/channel/sessions/{sid}/messages", body)
        assert _error(r) == (400 if code == "SYNTAX_ERROR" else 422, code), (body[:60], r.text)
        seen.append(code)
        # an ERROR ends the session: its id is unknown from then on
        assert _error(_post(http, f"/channel/sessions/{sid}/messages", cv())) == (404, "UNKNOWN_SESSION")
    r = _post(http, f"/channel/sessions/{_session(http)}/messages", cv(time_window_secs="1"))
    assert r.json()["error"]["expected_value"] == SERVER_CONFIG.min_time_window_secs

    # bodies over the message limit: declared, and streamed without a length
    sid = _session(http)
    huge = b'{"type": "CLOSE", "tx": "' + b"00" * MAX_MESSAGE_BYTES + b'"}'
    assert _error(_post(http, f"/channel/sessions/{sid}/messages", huge)) == (413, "SYNTAX_ERROR")
    sid = _session(http)
    r = http.post(f"/channel/sessions/{sid}/messages", content=iter([huge[:100_000], huge[100_000:]]))
    assert _error(r) == (413, "SYNTAX_ERROR")

    # every other route, every way to get it wrong
    txid = client.deposit_txid
    walk = [
        ("POST", "/channel/sessions/nothex/messages", b"{}", (400, "SYNTAX_ERROR")),
        ("POST", "/channel/sessions/" + "0" * 32 + "/messages", b'{"type":"CLOSE"}', (404, "UNKNOWN_SESSION")),
        ("DELETE", "/channel/sessions/" + "0" * 32, None, (404, "UNKNOWN_SESSION")),
        ("DELETE", "/channel/sessions/xyz", None, (400, "SYNTAX_ERROR")),
        ("GET", "/channel/sessions/" + "0" * 32 + "/messages", None, (405, "METHOD_NOT_ALLOWED")),
        ("GET", "/channel/channels/" + "ab" * 32, None, (404, "UNKNOWN_CHANNEL")),
        ("GET", "/channel/channels/" + txid.upper(), None, (400, "SYNTAX_ERROR")),
        ("GET", "/channel/channels/1", None, (400, "SYNTAX_ERROR")),
        ("PUT", "/channel/channels", None, (405, "METHOD_NOT_ALLOWED")),
        ("POST", "/channel", b"{}", (405, "METHOD_NOT_ALLOWED")),
        ("POST", "/channel/sessions", b"x" * (MAX_MESSAGE_BYTES + 1), (413, "SYNTAX_ERROR")),
        ("GET", "/nothing/here", None, (404, "NOT_FOUND")),
    ]
    for method, path, body, want in walk:
        r = http.request(method, path, content=body)
        assert _error(r) == want, (method, path, r.text)
    assert service.store.dump() == before, "a refused request changed the server's stored state"
    # and it still serves: the channel's state over HTTP, a fresh handshake
    assert http.get(f"/channel/channels/{txid}").json()["client_change"] == DEPOSIT - SERVER_CONFIG.min_payment
    r = _post(http, f"/channel/sessions/{_session(http)}/messages", cv())
    assert [m["type"] for m in r.json()["messages"]] == ["SERVER_VERSION", "INITIATE"]
    assert set(seen) == {"SYNTAX_ERROR", "NO_ACCEPTABLE_VERSION", "TIME_WINDOW_UNACCEPTABLE"}


def test_v3_channel_over_http_settles_to_the_satoshi_on_chain(service):
    client = service.client()
    txid = client.open(DEPOSIT).deposit_txid
    amounts = [1_000 + 37 * i for i in range(40)]
    for n, a in enumerate(amounts, 1):
        r = client.pay(a, info=b"tick")
        info = json.loads(r.info)  # the server's hook answered through PAYMENT_ACK over HTTP
        assert info == {"paid": 1_000 + sum(amounts[:n]), "remaining": DEPOSIT - 1_000 - sum(amounts[:n]),
                        "amount": a}
    want_change = DEPOSIT - 1_000 - sum(amounts)
    stored = httpx.get(f"{service.url}/channel/channels/{txid}", headers=service.operator()).json()
    assert (stored["client_change"], stored["payments"], stored["status"]) == (want_change, 41, "open")
    settlement = client.close()
    service.wallet.mine_to_self(1)
    close = service.rpc.getrawtransaction(settlement.GetTxid()[::-1].hex(), True)
    ch = service.server.channel(txid)
    assert close["confirmations"] == 1 and [(i["txid"], i["vout"]) for i in close["vin"]] == [(txid, 0)]
    outs = [(o["scriptPubKey"]["hex"], sats(o["value"])) for o in close["vout"]]
    assert outs == [(client.channel.client_spk.hex(), want_change),
                    (ch.server_spk.hex(), DEPOSIT - want_change - ch.close_fee)]
    deposit = service.rpc.getrawtransaction(txid, True)
    assert deposit["vout"][0]["scriptPubKey"]["type"] == "witness_v0_scripthash"
    assert sats(deposit["vout"][0]["value"]) == DEPOSIT
    assert httpx.get(f"{service.url}/channel/channels/{txid}", headers=service.operator()).json()["status"] == "closing"


def test_resume_after_client_restart_over_http(service):
    client = service.client()
    txid = client.open(DEPOSIT).deposit_txid
    for _ in range(5):
        client.pay(2_000)
    client.store.close()  # the client process goes away mid-channel
    again = service.client()
    assert again.deposit_txid == txid and again.change == DEPOSIT - 11_000
    again.resume()
    assert again.pay(3_000).change == DEPOSIT - 14_000
    assert service.server.channel(txid).best_change == DEPOSIT - 14_000


def test_reconnect_after_server_restart_with_a_payment_lost_in_flight(service):
    client = service.client()
    txid = client.open(DEPOSIT).deposit_txid
    client.pay(5_000)
    service.stop()
    service.start()  # same store, same port, new process state: every session id is gone
    assert client.pay(5_000).change == DEPOSIT - 11_000  # UNKNOWN_SESSION -> reconnect, resume, resend
    service.stop()
    with pytest.raises(TransportError):
        client.pay(7_000)  # the server is down: the payment stays in flight, stored by the client
    assert client.channel.pending_change == DEPOSIT - 18_000 and client.change == DEPOSIT - 11_000
    service.start()
    assert client.pay(1_000).change == DEPOSIT - 19_000  # the lost payment is delivered first
    ch = service.server.channel(txid)
    assert (ch.best_change, ch.payments) == (DEPOSIT - 19_000, 5)
