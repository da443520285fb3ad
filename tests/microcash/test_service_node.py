"""MicroCash over HTTP on the node (both engines): the notary and two merchants as services on SQLite
stores; the customer announces its escrow, pays tickets over HTTP, the merchants claim through N, N pays;
a ticket that proves cheating is answered 409 with the proof, which breaks the escrow at N; bad input is
a 4xx JSON error that changes nothing; a restarted notary and merchant serve the same escrow."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from bitcoin.core import CTransaction

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.microcash import Customer, Merchant, Notary, Params
from btcmicro.lottery.microcash.sqlite import SQLiteMerchantStore, SQLiteNotaryStore
from btcmicro.lottery.microcash.store import MemoryCustomerStore
from btcmicro.service.app import operator_headers
from btcmicro.service.microcash import (
    MerchantClient,
    NotaryClient,
    create_microcash_merchant_app,
    create_notary_app,
)
from btcmicro.service.runner import ServiceThread
from btcmicro.wallet import Funder
from btcmicro.wire.base64url import b64encode

from .nodeworld import NodeWorld

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def _paid_to(w: NodeWorld, txid: str, spk: bytes) -> int:
    st = w.chain.get_tx(txid)
    assert st is not None and st.confirmations >= 1
    return sum(int(o.nValue) for o in CTransaction.deserialize(bytes.fromhex(st.hex)).vout
               if bytes(o.scriptPubKey) == spk)


def test_escrow_tickets_claims_and_payout_over_http(rpc: Any, funded: Funder, tmp_path: Path) -> None:
    w = NodeWorld(rpc, funded)
    p = w.params
    notary = Notary(w.nk, w.genesis, SQLiteNotaryStore(tmp_path / "n.sqlite"), w.chain, w.beacon)
    merchants = [Merchant(k, w.genesis, SQLiteMerchantStore(tmp_path / f"m{i}.sqlite"), w.chain, w.beacon)
                 for i, k in enumerate(w.mks)]
    txid = w.broadcast_creation()
    customer = Customer(w.ck, w.genesis, MemoryCustomerStore(), w.chain)
    with ServiceThread(create_notary_app(notary)) as n_svc, NotaryClient(n_svc.url) as n_client:
        n_op = NotaryClient(n_svc.url, operator_token=n_svc.app.state.operator_token)
        m_svcs = [ServiceThread(create_microcash_merchant_app(m, notary=n_client)).start() for m in merchants]
        shops = [MerchantClient(s.url) for s in m_svcs]
        try:
            id_esc = n_client.register(p, txid)
            assert n_client.status(id_esc) == "active"
            assert [shop.announce(p, txid) for shop in shops] == [0, 1]
            assert n_client.register(p, txid) == id_esc  # idempotent
            customer.created(p, txid)
            w.mine_to(p.start_height)

            # round 0: every seqno over HTTP, alternately to the two merchants
            for i in range(p.tkt_rate):
                shops[i % 2].pay(customer.pay(i % 2))
            replay = customer.sign_any(0, 0)  # the same signed ticket again (BIP340 signing is deterministic)
            with pytest.raises(ProtocolError) as exc:
                shops[0].pay(replay)
            assert exc.value.code == "REPLAYED" and exc.value.status == 409  # type: ignore[attr-defined]
            with pytest.raises(ProtocolError) as exc:
                shops[0].pay(customer.sign_any(1, 2))  # merchant 1's index, sent to merchant 0
            assert exc.value.code == "WRONG_MERCHANT"
            with pytest.raises(ProtocolError) as exc:
                n_client.winners(id_esc, 0)
            assert exc.value.code == "NOT_FINAL" and exc.value.status == 425  # type: ignore[attr-defined]

            # the draw: merchants claim their held winners through N (operator), N pays in one transaction
            w.mine_to(p.t_draw(0) + p.confirmations - 1)
            won = n_client.winners(id_esc, 0)
            assert len(set(won)) == p.winners
            assert httpx.post(m_svcs[0].url + "/claim", json={"id_esc": id_esc.hex(), "group": 0}).status_code == 401
            results = []
            for s in m_svcs:
                answer = httpx.post(s.url + "/claim", json={"id_esc": id_esc.hex(), "group": 0},
                                    headers=operator_headers(s.app.state.operator_token)).json()
                results += answer["claims"]
            assert sorted(r["seqno"] for r in results) == sorted(won)
            assert {r["result"] for r in results} == {"accepted"}
            with pytest.raises(ProtocolError) as exc:
                n_client.settle(id_esc, 0)  # no operator token
            assert exc.value.code == "UNAUTHORIZED"
            payout = n_op.settle(id_esc, 0)
            assert payout is not None
            w.mine(1)
            by_merchant = [sum(1 for s in won if s % 2 == i) for i in (0, 1)]  # seqno i went to merchant i % 2
            for m, wins in zip(merchants, by_merchant, strict=True):
                assert _paid_to(w, payout, m.payout_spk) == wins * p.beta

            # a signed ticket beyond the escrow's seqnos proves cheating; the merchant tells N
            with pytest.raises(ProtocolError) as exc:
                shops[0].pay(customer.sign_any(0, p.max_seqno))
            assert exc.value.code == "CHEATING" and exc.value.extra["notary"] == "broken"  # type: ignore[attr-defined]
            assert exc.value.extra["proof"]  # type: ignore[attr-defined]
            assert n_client.status(id_esc) in ("broken", "burned")
            with pytest.raises(ProtocolError) as exc:
                shops[0].pay(customer.sign_any(0, 1))
            assert exc.value.code == "ESCROW_BROKEN"
        finally:
            for shop in shops:
                shop.close()
            for s in m_svcs:
                s.stop()
            n_op.close()

    # a restart serves the same escrow from the store
    board_before = notary.store.board()
    for m in merchants:
        m.store.close()
    notary.store.close()
    again = Notary(w.nk, w.genesis, SQLiteNotaryStore(tmp_path / "n.sqlite"), w.chain, w.beacon)
    assert set(again.escrows) == {id_esc} and again.store.board() == board_before
    merchant_again = Merchant(w.mks[0], w.genesis, SQLiteMerchantStore(tmp_path / "m0.sqlite"), w.chain, w.beacon)
    assert set(merchant_again.escrows) == {id_esc}
    again.store.close()
    merchant_again.store.close()


def test_bad_input_is_a_4xx_json_error_and_changes_nothing(rpc: Any, funded: Funder, tmp_path: Path) -> None:
    w = NodeWorld(rpc, funded)
    notary = Notary(w.nk, w.genesis, SQLiteNotaryStore(tmp_path / "n.sqlite"), w.chain, w.beacon)
    merchant = Merchant(w.mks[0], w.genesis, SQLiteMerchantStore(tmp_path / "m.sqlite"), w.chain, w.beacon)
    txid = w.broadcast_creation()
    other = Params.from_canonical(w.params.canonical()).replace(beta=w.params.beta * 2,
                                                                b_penalty=w.params.b_penalty * 4)
    with ServiceThread(create_notary_app(notary)) as n_svc, \
            ServiceThread(create_microcash_merchant_app(merchant)) as m_svc:
        bad_params = b64encode(w.params.canonical()[:-1])
        cases = [
            (n_svc.url + "/escrow", {"params": bad_params, "txid": txid}, 400, "MALFORMED"),
            (n_svc.url + "/escrow", {"params": b64encode(other.canonical()), "txid": txid}, 422, "BAD_ESCROW"),
            (n_svc.url + "/escrow", {"params": b64encode(w.params.canonical()), "txid": "0" * 64}, 404, "NOT_FOUND"),
            (n_svc.url + "/escrow", {"params": "!!", "txid": txid}, 400, "SYNTAX_ERROR"),
            (n_svc.url + "/claim", {"claim": b64encode(b"garbage")}, 400, "BAD_TAG"),
            (n_svc.url + "/proof", {"proof": ""}, 400, None),
            (m_svc.url + "/escrow", {"params": b64encode(other.canonical()), "txid": txid}, 422, "BAD_ESCROW"),
            (m_svc.url + "/ticket", {"ticket": b64encode(b"\x00" * 110)}, 404, "UNKNOWN_ESCROW"),
            (m_svc.url + "/ticket", {"ticket": b64encode(b"\x00" * 109)}, 400, None),
            (m_svc.url + "/ticket", [1], 400, "SYNTAX_ERROR"),
        ]
        for url, body, status, code in cases:
            r = httpx.post(url, json=body)
            assert r.status_code == status, (url, body, r.text)
            assert "error" in r.json() and (code is None or r.json()["error"]["code"] == code), (url, r.text)
        assert httpx.get(n_svc.url + f"/escrow/{'0' * 72}").status_code == 404
        assert httpx.get(n_svc.url + "/escrow/zz").status_code == 400
    assert notary.escrows == {} and notary.store.board() == [] and notary.store.saved_escrows() == []
    assert merchant.escrows == {} and merchant.store.saved_escrows() == []
    notary.store.close()
    merchant.store.close()
