"""The router's side, through its HTTP routes and on the node: a stale payment cannot become the
best one (nor survive a restart as it), the proxy refuses traffic without a grant, a grant needs the
channel's client key, the client app's API answers bad input with 4xx JSON."""
from __future__ import annotations

import httpx
import pytest

from btcmicro.channels.bitcoinj import Error, PaymentChannelServer, UpdatePayment
from btcmicro.channels.bitcoinj.metered import MeteredRouter, Tariff, sign_grant
from btcmicro.core.keys import PrivateKey
from btcmicro.node.rpc import sats
from btcmicro.service.router import RouterService

from .conftest import ROUTER_CONFIG

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def test_stale_payment_cannot_be_the_routers_best(stack):
    stack.app.session.page_timeout = 0  # no page in this test
    stack.login_api()
    session = stack.app.session
    session.autopay = False
    client = session.client
    txid = client.channel.deposit_txid
    with session._channel_lock:  # the app's own lock: nothing else pays meanwhile
        client.pay(10_000)
        client.pay(10_000)
        contract = client.channel.contract
        key = client.store.key(client.channel.client_key)
        stale = UpdatePayment(80_000, contract.sign_payment(key, 80_000), None)  # the first payment, again
        replies = client.transport.exchange(stale)
    assert [type(r) for r in replies] == [Error] and replies[0].code == "BAD_TRANSACTION"
    server = stack.router.server
    assert server.channel(txid).best_change == 70_000  # the best payment stays the highest
    assert stack.router.router.meter.usage(txid).paid == 30_000  # and the allotment with it

    restarted = PaymentChannelServer(server.chain, stack.router_store, config=ROUTER_CONFIG)
    assert restarted.channel(txid).best_change == 70_000  # what it stored before acknowledging
    result = stack.router.router.close(txid)  # the router settles on its best
    stack.mine(1)
    close = stack.rpc.getrawtransaction(result.txid, True)
    outputs = {o["scriptPubKey"]["hex"]: sats(o["value"]) for o in close["vout"]}
    assert close["confirmations"] == 1
    assert outputs[client.channel.client_spk.hex()] == 70_000
    assert outputs[server.channel(txid).server_spk.hex()] == 30_000 - result.fee


def test_the_proxy_wants_a_grant_and_a_grant_wants_the_client_key(stack):
    stack.app.session.page_timeout = 0
    stack.login_api()
    txid = stack.app.session.client.channel.deposit_txid
    proxy = stack.router.proxy_url
    with httpx.Client(proxy=proxy, trust_env=False, timeout=10) as http:  # no credentials
        r = http.get(f"{stack.files.url}/1500k.bin")
    assert r.status_code == 407 and r.json()["error"]["code"] == "PAYMENT_REQUIRED"
    host = proxy.split("://")[1]
    with httpx.Client(proxy=f"http://{txid}:{'0' * 32}@{host}", trust_env=False, timeout=10) as http:
        assert http.get(f"{stack.files.url}/1500k.bin").status_code == 407  # a made-up token
    with httpx.Client(base_url=stack.router.url, trust_env=False, timeout=10) as api:
        challenge = api.post("/meter/challenge").json()["challenge"]
        r = api.post("/meter/grant", json={"deposit_txid": txid, "challenge": challenge,
                                           "signature": sign_grant(PrivateKey.generate(), txid, challenge)})
        assert r.status_code == 403 and r.json()["error"]["code"] == "BAD_SIGNATURE"
        r = api.post("/meter/grant", json={"deposit_txid": txid, "challenge": challenge, "signature": "00" * 8})
        assert r.status_code == 401 and r.json()["error"]["code"] == "BAD_CHALLENGE"  # used once only
        r = api.post("/meter/grant", content=b"{not json")
        assert r.status_code == 400 and r.json()["error"]["code"] == "SYNTAX_ERROR"
        r = api.get("/meter/usage", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "UNKNOWN_TOKEN"
        r = api.get("/operator/channels")
        assert r.status_code == 401
        rows = api.get("/operator/channels", headers={"Authorization": f"Bearer {stack.router.operator_token}"}).json()
        (row,) = rows["channels"]
        assert row["deposit_txid"] == txid and row["income"] == 10_000 and row["allotment_bytes"] == 1_000_000
        assert row["blocks_to_lock_time"] == row["lock_time"] - rows["height"]
        assert "metercoin router" in api.get("/operator").text
    with httpx.Client(base_url=stack.meter.url, trust_env=False, timeout=10) as app:
        r = app.post("/api/login", json={"username": "alice", "password": "x"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "BAD_STATE"  # already logged in
        r = app.post("/api/login", json={"username": "no such/user", "password": "x"})
        assert r.status_code == 400
        r = app.post("/api/autopay", json={"enabled": "maybe"})
        assert r.status_code == 400
        r = app.post("/api/logout", headers={"Origin": "http://elsewhere.example"})  # another site's page
        assert r.status_code == 403 and r.json()["error"]["code"] == "FOREIGN_ORIGIN"
        assert stack.app.session.state.value == "open"


def test_the_router_closes_a_channel_whose_client_ran_out_of_funds(stack):
    stack.app.session.page_timeout = 0
    stack.app.session.deposit = 55_000  # five megabytes, and 5,000 sats that cannot buy a sixth
    stack.login_api()
    session = stack.app.session
    txid = session.client.channel.deposit_txid
    with pytest.raises(httpx.RemoteProtocolError):  # the proxy ends the transfer when the channel closes
        stack.download("5mb.bin")
    stack.wait(lambda: session.state.value == "closed")
    assert stack.usage()["used_bytes"] == stack.usage()["allotment_bytes"] == 5_000_000
    ch = stack.router.server.channel(txid)
    assert ch.status.value == "closing" and ch.best_change == 5_000 and len(session.payments) == 4
    stack.mine(1)
    close = stack.rpc.getrawtransaction(ch.close_txid, True)
    outputs = {o["scriptPubKey"]["hex"]: sats(o["value"]) for o in close["vout"]}
    assert close["confirmations"] == 1 and outputs[session.client.channel.client_spk.hex()] == 5_000


def test_the_router_settles_before_the_refunds_lock_time(stack):
    stack.app.session.page_timeout = 0
    stack.login_api()
    session = stack.app.session
    ch = session.client.channel
    with session._channel_lock:
        session.client.pay(10_000)
    margin = stack.router.server.config.close_margin_blocks
    stack.mine(ch.expiry - margin - stack.height() - 1)
    assert stack.router.server.channel(ch.deposit_txid).status.value == "open"  # not yet due
    stack.mine(1)  # the close margin: the router's watcher settles on its best payment
    stack.wait(lambda: stack.router.server.channel(ch.deposit_txid).status.value == "closing")
    stack.wait(lambda: session.state.value == "closed")  # the app hears it from the router's usage
    close_txid = stack.router.server.channel(ch.deposit_txid).close_txid
    stack.mine(1)
    close = stack.rpc.getrawtransaction(close_txid, True)
    outputs = {o["scriptPubKey"]["hex"]: sats(o["value"]) for o in close["vout"]}
    assert close["confirmations"] == 1 and outputs[ch.client_spk.hex()] == 100_000 - 20_000
    assert stack.height() < ch.expiry  # settled before the client could refund
    stack.wait(lambda: session.state.value == "settled")


def test_a_restarted_router_takes_up_the_channel_and_grants_again(stack):
    stack.app.session.page_timeout = 0
    stack.login_api()
    session = stack.app.session
    txid = session.client.channel.deposit_txid
    old = stack.router
    old_token = session.token
    proxy_port = int(old.proxy_url.rsplit(":", 1)[1])
    port = int(old.url.rsplit(":", 1)[1])
    old.stop()
    router = MeteredRouter(PaymentChannelServer(old.server.chain, stack.router_store, config=ROUTER_CONFIG), Tariff())
    new = RouterService(router, port=port, proxy_port=proxy_port).start()  # same store, same ports
    try:
        stack.router = new
        stack.wait(lambda: session.token != old_token and session.router_reachable)  # granted again
        assert stack.download("1500k.bin") == 1_500_000  # metered from the stored payments on, and paid
        stack.wait(lambda: len(session.payments) == 1)
        assert router.server.channel(txid).best_change == 100_000 - 20_000
    finally:
        new.stop()
