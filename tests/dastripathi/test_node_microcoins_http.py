"""Microcoins [reconstructed, §6.4] over HTTP on a real node (both engines): the payer sets a coin
chain up on its channel and sends coins to the merchant's ``POST /coin``; bad coins are 4xx JSON and
change nothing; the merchant restarts on its stores; a coin double-spent across the restart is 409
DOUBLE_SPEND and the merchant's sweep of d + p with the exposed key is mined."""
from __future__ import annotations

import httpx
import pytest

from btcmicro.channels.dastripathi import (
    Merchant,
    MerchantStatus,
    Microcoin,
    Payer,
    SQLiteMerchantStore,
    SQLiteMicrocoinStore,
    SQLitePayerStore,
)
from btcmicro.channels.dastripathi.microcoins import _digest
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto import chameleon
from btcmicro.node.chain import RPCChain
from btcmicro.service import ServiceThread
from btcmicro.service.dastripathi import HTTPMerchant, create_dastripathi_app
from btcmicro.wire.base64url import b64encode

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

DEPOSIT, PENALTY, UNIT, N = 50_000, 20_000, 500, 20


def test_microcoins_over_http_restart_and_double_spend_sweep(rpc, bank, tmp_path):
    bank.ensure_balance(4 * (DEPOSIT + PENALTY))
    chain = RPCChain(rpc)
    sk_b = PrivateKey.generate()

    def merchant() -> Merchant:  # a (re)started merchant on its files
        return Merchant(chain, SQLiteMerchantStore(tmp_path / "b.db"), sk_b, margin=1,
                        coins=SQLiteMicrocoinStore(tmp_path / "b.db"))

    payer = Payer(chain, bank, SQLitePayerStore(), coins=SQLiteMicrocoinStore())
    with ServiceThread(create_dastripathi_app(merchant())) as svc:
        b = HTTPMerchant(svc.url)
        ch = payer.fund(b.offer(), DEPOSIT, chain.height() + 6, penalty=PENALTY, microcoins=(N, UNIT))
        eid = ch.escrow_id
        bank.confirm(1)
        payer.on_voucher(eid, b.open(payer.open_message(eid).encode()).encode())
        assert b.coins_open(eid, payer.coin_setup(eid)) == {"status": "open", "index": 0, "owed": 0, "n": N,
                                                            "unit": UNIT}
        owed = [b.coin(eid, payer.coin(eid).encode())["owed"] for _ in range(3)]
        assert owed == [UNIT, 2 * UNIT, 3 * UNIT]
        assert b.coin(eid, payer.coin(eid, 2).encode())["owed"] == 3 * UNIT  # a resent coin: nothing changes
        before = b.channel(eid)
        coin4 = payer.coin(eid)
        bad = [("/coin", {"escrow_id": eid, "coin": b64encode(coin4.encode()[:-1])}, 400),
               ("/coin", {"escrow_id": eid, "coin": b64encode(payer.issuer(eid).coin(6).encode())}, 409),  # skips 5
               ("/coin", {"escrow_id": eid, "coin": "!!"}, 400),
               ("/coin", {"escrow_id": "00" * 32 + ":0", "coin": b64encode(coin4.encode())}, 404),
               ("/coins/open", {"escrow_id": eid, "setup": b64encode(b"junk")}, 400)]
        with httpx.Client(base_url=svc.url) as http:
            for path, body, status in bad:
                r = http.post(path, json=body)
                assert (r.status_code, set(r.json()["error"])) == (status, {"code", "detail"}), (path, r.text)
            forged = Microcoin(4, coin4.node, coin4.randomness_inverse + 1)
            r = http.post("/coin", json={"escrow_id": eid, "coin": b64encode(forged.encode())})
            assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_COIN"
        assert b.channel(eid) == before and before["coins"]["index"] == 3
        m = payer.pay(eid, 3 * UNIT)  # settle the three coins through the channel
        payer.on_receipt(eid, m, b.pay(m.encode()).encode())
        b.close()
    # the merchant restarts on its stores; the payer double-spends coin 2 (built by hand: the library refuses)
    issuer = payer.issuer(eid)
    fork = PrivateKey.generate().pubkey
    a, rho = issuer._blank(1)
    second = Microcoin.opening(2, fork, chameleon.find_collision(issuer._x, a, rho, _digest(2, fork, sk_b.pubkey)))
    again = merchant()
    with ServiceThread(create_dastripathi_app(again)) as svc:
        b = HTTPMerchant(svc.url)
        assert b.channel(eid)["coins"] == {"status": "accepting", "index": 3, "owed": 3 * UNIT, "n": N, "unit": UNIT}
        with pytest.raises(ProtocolError) as e:
            b.coin(eid, second.encode())
        assert e.value.code == "DOUBLE_SPEND" and "swept" in str(e.value)
        assert b.channel(eid)["coins"]["status"] == "exposed"
        b.close()
    bank.confirm(1)
    txid = again.store.channel(eid).close_txid
    tx = rpc.getrawtransaction(txid, True)
    assert tx["confirmations"] == 1 and [round(o["value"] * 100_000_000) for o in tx["vout"]] == [DEPOSIT + PENALTY]
    assert again.store.channel(eid).status is MerchantStatus.CLOSING and again.tick() == [(eid, "confirmed")]
