"""MICROPAY2 over HTTP on the node: a payer buying pages from the merchant's web server, winners
claimed in the background through the VTS service and mined, the board audited over HTTP, and two
merchants racing for one escrow. Every claim is judged by the node; ρ = 1/4 or 1/2 for quick wins."""
from __future__ import annotations

import secrets
import threading
from contextlib import ExitStack
from fractions import Fraction

import httpx
import pytest

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    VTS,
    AlreadyClaimed,
    Merchant,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVTSStore,
    audit,
    wins,
)
from btcmicro.node.chain import RPCChain
from btcmicro.service import ServiceThread
from btcmicro.service.app import operator_headers
from btcmicro.service.merchant import PayerClient, create_merchant_app
from btcmicro.service.vts import HTTPVTS, create_vts_app

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

VALUE = 200_000
PRICE = 40_000


class Setup:
    """A VTS service, merchant services and payers on one node, each with its own SQLite file."""

    def __init__(self, rpc, funded, tmp_path, stack: ExitStack) -> None:
        self.chain = RPCChain(rpc)
        self.rpc = rpc
        self.funded = funded
        self.tmp = tmp_path
        self.stack = stack
        self.vts = VTS(PrivateKey.generate(), SQLiteVTSStore(tmp_path / "vts.sqlite"), chain=self.chain)
        self.vts_url = stack.enter_context(ServiceThread(create_vts_app(self.vts))).url

    def merchant(self, name: str, k: int) -> tuple[Merchant, ServiceThread]:
        m = Merchant(secrets.token_bytes(32), self.chain, SQLiteMerchantStore(self.tmp / f"{name}.sqlite"),
                     [self.vts.pubkey], price=PRICE, k=k, tip_poll_seconds=0)
        vts = self.stack.enter_context(HTTPVTS(self.vts_url, self.vts.pubkey))
        svc = self.stack.enter_context(ServiceThread(create_merchant_app(m, [vts])))
        return m, svc

    def payer(self, n: int, **kw) -> Payer:
        store = SQLitePayerStore(self.tmp / f"payer-{secrets.token_hex(4)}.sqlite")
        kw.setdefault("max_overpay", Fraction(3, 2))  # quick wins: a ticket costs up to 2.5x the price here
        p = Payer(secrets.token_bytes(32), self.chain, store,
                  [self.vts.pubkey], funder=self.funded, max_price=PRICE, **kw)
        p.fund_escrows([VALUE] * n, self.chain.height() + 60)
        self.funded.confirm(1)
        p.refresh()
        return p


@pytest.fixture
def setup(rpc, funded, tmp_path):
    with ExitStack() as stack:
        yield Setup(rpc, funded, tmp_path, stack)


def test_full_session_over_http_wins_claimed_in_background_and_mined(setup):
    start = setup.chain.height()
    merchant, svc = setup.merchant("shop", k=2)
    payer = setup.payer(5)
    client = PayerClient(payer, svc.url)
    bought = []
    while sum(p.won for p in bought) < 3:
        bought.append(client.purchase())
        assert len(bought) < 80
    won = [p for p in bought if p.won]
    claimer = svc.app.state.claimer
    assert claimer.wait(30)
    assert {rec.status for rec in merchant.winners()} == {"broadcast"}
    txids = {rec.c: rec.claim_txid for rec in merchant.winners()}
    assert set(txids) == {p.ticket.c for p in won}
    assert {p.ticket.escrow.outpoint for p in won} == {(r.txid, r.vout) for r in payer.escrows("retired")}

    # a replayed ticket is refused over HTTP, and changes nothing
    before = merchant.store.count()
    r = httpx.post(svc.url + "/buy", json={"ticket": bought[0].ticket.to_b64()})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "REPLAYED")
    assert merchant.store.count() == before

    setup.funded.confirm(1)
    for p in won:  # every claim mined, paying the ticket's claim value to its a2
        tx = setup.rpc.call("getrawtransaction", txids[p.ticket.c], 1)
        assert tx["confirmations"] == 1 and (tx["vin"][0]["txid"], tx["vin"][0]["vout"]) == p.ticket.escrow.outpoint
        out = setup.chain.get_utxo(txids[p.ticket.c], 0)
        assert (out.value, out.script_pubkey) == (p.ticket.claim_value, p.ticket.a2)
    payer.refresh()
    assert {(r.txid, r.vout) for r in payer.escrows("claimed")} == {p.ticket.escrow.outpoint for p in won}
    assert len(payer.escrows("live")) == 2

    with HTTPVTS(setup.vts_url, setup.vts.pubkey) as vts:  # the auditor reads the board over HTTP
        report = audit(setup.vts.pubkey, vts.entries(), setup.chain, from_height=start)
    assert report.ok, report.to_dict()
    assert (report.entries, report.claims_on_chain) == (3, 3)
    client.close()


def test_two_merchants_race_for_one_escrow_over_http_loser_told_at_once(setup):
    alice, alice_svc = setup.merchant("alice", k=1)
    bob, bob_svc = setup.merchant("bob", k=1)
    payer = setup.payer(1, share_escrows=True)
    (rec,) = payer.escrows("live")
    escrow = payer.escrow_ref(rec)
    to_alice, to_bob = PayerClient(payer, alice_svc.url), PayerClient(payer, bob_svc.url)

    def winning(client: PayerClient, m: Merchant):
        for _ in range(64):  # a payer double-spending its escrow: winning tickets to two merchants
            t = payer.sign_ticket(escrow, client.ask(), VALUE - 2_000)
            if wins(m.r1(t), t.r2, t.k):
                return t
        raise AssertionError("no winning ticket")

    ta, tb = winning(to_alice, alice), winning(to_bob, bob)
    height = setup.chain.height()
    # Hold the VTS until both merchants have accepted their ticket: otherwise the first claim can reach the
    # mempool before the second ticket arrives, and that merchant refuses it as ESCROW_SPENT instead.
    gate, vts_claim = threading.Event(), setup.vts.claim
    setup.vts.claim = lambda x: (gate.wait(30), vts_claim(x))[1]
    assert to_alice.buy(ta).won and to_bob.buy(tb).won  # each merchant sees a winning ticket, serves the page
    gate.set()
    assert alice_svc.app.state.claimer.wait(30) and bob_svc.app.state.claimer.wait(30)
    outcomes = {m: m.store.win(t.c) for m, t in ((alice, ta), (bob, tb))}
    statuses = sorted(r.status for r in outcomes.values())
    assert statuses == ["broadcast", "lost"]  # one signature for the escrow
    assert setup.chain.height() == height  # the loser was told by the VTS, not by a block
    winner = next(m for m, r in outcomes.items() if r.status == "broadcast")
    loser = bob if winner is alice else alice
    lost = (bob_svc if loser is bob else alice_svc).app.state.claimer.results[(tb if loser is bob else ta).c]
    assert isinstance(lost, AlreadyClaimed) and lost.entry.x.c == (ta if winner is alice else tb).c
    loser_svc = bob_svc if loser is bob else alice_svc
    listed = httpx.get(loser_svc.url + "/wins", headers=operator_headers(loser_svc.app.state.operator_token))
    assert [w["status"] for w in listed.json()] == ["lost"]
    assert len(setup.vts.board) == 1
    setup.funded.confirm(1)
    txid = outcomes[winner].claim_txid
    assert setup.rpc.call("getrawtransaction", txid, 1)["confirmations"] == 1
    to_alice.close()
    to_bob.close()
