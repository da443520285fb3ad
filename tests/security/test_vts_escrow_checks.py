"""Item 3 of the security issue: the VTS signed claims on made-up escrows (500 of 500 in 1.1 s, each a
permanent board entry). With a chain it now signs only for an escrow output that exists, is unspent,
confirmed and holds the contract and value the claim names; and one client can add only so many
entries to its board. Played through the VTS web service."""
from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    VTS,
    ClaimWitness,
    EscrowRecord,
    EscrowRef,
    EscrowStatus,
    Merchant,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVTSStore,
    b64encode,
    wins,
)
from btcmicro.node.chain import RPCChain
from btcmicro.service import ServiceThread
from btcmicro.service.vts import create_vts_app
from tests.micropay2.fakes import World
from tests.micropay2.test_vts import witnesses

PRICE = 10_000
VALUE = (PRICE << 1) + 1_000


def winning_witness(payer: Payer, escrow: EscrowRef, merchant: Merchant) -> ClaimWitness:
    for _ in range(200):
        t = payer.sign_ticket(escrow, merchant.request(), escrow.value - 1_000)
        if wins(merchant.r1(t), t.r2, t.k):
            return t.witness(merchant.r1(t))
    raise AssertionError("no win in 200 tickets at rho = 1/2")


def fabricated(payer: Payer) -> EscrowRef:
    """An escrow of this payer's keys on an outpoint that was never funded."""
    (i,) = payer.store.reserve_indices(1)
    t = payer.template(i, 10_000)
    payer.store.add_escrows([EscrowRecord(i, VALUE, "p2wsh", t.script, secrets.token_hex(32), 0,
                                          EscrowStatus.LIVE, None, 0, 1, None)])
    rec = payer.store.escrow(i)
    assert rec is not None
    return payer.escrow_ref(rec)


def post(url: str, x: ClaimWitness) -> httpx.Response:
    return httpx.post(url + "/claim", json={"x": b64encode(x.encode())})


@pytest.mark.integration
@pytest.mark.both_engines
def test_vts_refuses_claim_on_fabricated_escrow(rpc: Any, funded: Any, tmp_path: Any) -> None:
    chain = RPCChain(rpc)
    vts = VTS(PrivateKey.generate(), SQLiteVTSStore(tmp_path / "vts.sqlite"), chain=chain)
    payer = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(tmp_path / "payer.sqlite"), [vts.pubkey],
                  funder=funded)
    shop = Merchant(secrets.token_bytes(32), chain, SQLiteMerchantStore(":memory:"), [vts.pubkey], price=PRICE, k=1)
    with ServiceThread(create_vts_app(vts)) as svc:
        # made-up escrows: well-signed winning claims on outpoints that were never funded
        for _ in range(20):
            r = post(svc.url, winning_witness(payer, fabricated(payer), shop))
            assert (r.status_code, r.json()["error"]["code"]) == (400, "ESCROW_UNKNOWN")
        assert len(vts.board) == 0  # before the fix: 20 signatures, 20 permanent board entries

        (real, other) = payer.fund_escrows([VALUE, VALUE], chain.height() + 60)
        x = winning_witness(payer, real, shop)
        r = post(svc.url, x)  # funded but not yet confirmed
        assert (r.status_code, r.json()["error"]["code"]) == (400, "ESCROW_UNCONFIRMED")
        funded.confirm(1)
        # a real outpoint claimed with another value than it holds (signed by its own key, so only the chain
        # can tell): the VTS compares value and scriptPubKey with the output on chain
        lie = EscrowRef(real.txid, real.vout, real.value + 50_000, real.template, real.wrapping)
        r = post(svc.url, winning_witness(payer, lie, shop))
        assert (r.status_code, r.json()["error"]["code"]) == (400, "ESCROW_MISMATCH")
        assert len(vts.board) == 0
        r = post(svc.url, x)  # the genuine claim on the confirmed escrow is signed
        assert r.status_code == 200 and len(vts.board) == 1
    assert other.outpoint != real.outpoint


def test_vts_refuses_mismatched_and_spent_escrows_without_writing() -> None:
    w = World(n=3, k=1, value=1_000_000)
    vts = VTS(w.vts.key, SQLiteVTSStore(":memory:"), chain=w.chain)
    x0, x1, x2 = (witnesses(w, 1, escrow=i)[0] for i in range(3))
    w.chain.spend_output(*x1.outpoint)
    u = w.chain.get_utxo(*x2.outpoint)
    assert u is not None
    w.chain.add_output(*x2.outpoint, u.value + 1, u.script_pubkey)  # on chain with another value
    with ServiceThread(create_vts_app(vts)) as svc:
        codes = [post(svc.url, x).json()["error"]["code"] for x in (x1, x2)]
        assert codes == ["ESCROW_SPENT", "ESCROW_MISMATCH"]
        assert len(vts.board) == 0
        assert post(svc.url, x0).status_code == 200 and len(vts.board) == 1


def test_vts_limits_what_one_client_can_make_it_write() -> None:
    w = World(n=6, k=1, value=1_000_000)
    vts = VTS(w.vts.key, SQLiteVTSStore(":memory:"), chain=w.chain)
    xs = [witnesses(w, 1, escrow=i)[0] for i in range(6)]
    with ServiceThread(create_vts_app(vts, max_new_claims=3, max_claim_requests=10)) as svc:
        statuses = [post(svc.url, x).status_code for x in xs]
        assert statuses == [200, 200, 200, 429, 429, 429]
        assert len(vts.board) == 3  # the rest were never written
        r = post(svc.url, xs[0])  # a retry of a signed claim is still answered
        assert r.status_code == 200 and len(vts.board) == 3
        last = post(svc.url, xs[5])
        assert last.json()["error"]["code"] == "TOO_MANY_CLAIMS"
        codes = [post(svc.url, xs[5]).json()["error"]["code"] for _ in range(6)]  # every request counts too
        assert "TOO_MANY_REQUESTS" in codes and set(codes) <= {"TOO_MANY_CLAIMS", "TOO_MANY_REQUESTS"}
        assert len(vts.board) == 3
