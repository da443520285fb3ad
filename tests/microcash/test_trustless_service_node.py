"""P-B over HTTP on the node (both engines): merchants serve a P-B escrow only with C's R list and the burn's
pre-signatures, refuse an uncommitted nonce with a 422, and a duplicated winner claimed by both merchants
breaks the escrow at N; a watcher reads the proof off N's board and completes the burn."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.microcash import board as B
from btcmicro.lottery.microcash.messages import Proof, Ticket
from btcmicro.lottery.microcash.trustless import burn_from_proof
from btcmicro.service.app import operator_headers
from btcmicro.service.microcash import MerchantClient, NotaryClient, create_microcash_merchant_app, create_notary_app
from btcmicro.service.runner import ServiceThread
from btcmicro.wallet import Funder
from btcmicro.wire.base64url import b64encode

from .test_trustless_node import PBWorld

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def test_pb_escrow_over_http_duplicate_claims_break_it_and_a_watcher_burns(rpc: Any, funded: Funder,
                                                                           tmp_path: Path) -> None:
    w = PBWorld(rpc, funded)
    p = w.params
    txid = w.broadcast_creation()
    esc = w.notary.register(p, txid)
    w.presigs = [b.presign(esc) for b in w.burn_keys]
    w.customer.created(p, txid)
    with ServiceThread(create_notary_app(w.notary)) as n_svc, NotaryClient(n_svc.url) as n_client:
        m_svcs = [ServiceThread(create_microcash_merchant_app(m, notary=n_client)).start() for m in w.merchants]
        shops = [MerchantClient(s.url) for s in m_svcs]
        try:
            r = httpx.post(m_svcs[0].url + "/escrow", json={"params": b64encode(p.canonical()), "txid": txid})
            assert r.status_code == 422 and r.json()["error"]["code"] == "BAD_ESCROW"  # no R list
            with pytest.raises(ProtocolError) as exc:
                shops[0].announce(p, txid, w.tk.nonce_points()[::-1], w.presigs)
            assert exc.value.code == "BAD_ESCROW"
            assert w.merchants[0].escrows == {}
            assert [s.announce(p, txid, w.tk.nonce_points(), w.presigs) for s in shops] == [0, 1]
            w.mine_to(p.start_height)
            with pytest.raises(ProtocolError) as exc:
                shops[0].pay(Ticket.issue(w.tk.key, w.genesis, 0, esc.id_esc, 0))
            assert exc.value.code == "NONCE_NOT_COMMITTED" and exc.value.status == 422  # type: ignore[attr-defined]
            lo, count = p.group_range(0)
            for seqno in range(lo, lo + count):  # C sells every seqno of round 0 to both merchants
                shops[0].pay(w.customer.sign_any(0, seqno))
                shops[1].pay(w.customer.sign_any(1, seqno))
            w.mine_to(p.t_draw(0) + p.confirmations - 1)
            results = []
            for s in m_svcs:
                answer = httpx.post(s.url + "/claim", json={"id_esc": esc.id_esc.hex(), "group": 0},
                                    headers=operator_headers(s.app.state.operator_token)).json()
                results += [x["result"] for x in answer["claims"]]
            assert "broken" in results and n_client.status(esc.id_esc) == "broken"
            proof = next(Proof.decode(e.data) for e in n_client.board() if e.kind == B.BROKEN)
        finally:
            for shop in shops:
                shop.close()
            for s in m_svcs:
                s.stop()
    burn = burn_from_proof(esc, w.presigs, w.genesis, proof)  # a watcher: neither N nor a merchant
    burn_txid = w.beacon.broadcast_burn(burn.serialize().hex(), int(burn.vout[0].nValue))
    w.mine(1)
    st = w.chain.get_tx(burn_txid)
    assert st is not None and st.confirmations == 1
    assert w.chain.get_utxo(esc.txid, esc.penalty_vout) is None


def test_a_pb_escrow_with_2_11_seqnos_is_served_over_http(rpc: Any, funded: Funder) -> None:
    """Its R list (64 KiB raw, 87 KiB in base64url) passes the /escrow route's own body limit; bad base64url
    in ``nonces`` is named as such."""
    w = PBWorld(rpc, funded, tkt_rate=1024, beta=1_000)
    p = w.params
    assert p.nonce_bits == 11
    txid = w.broadcast_creation()
    esc = w.notary.register(p, txid)
    w.presigs = [b.presign(esc) for b in w.burn_keys]
    with ServiceThread(create_microcash_merchant_app(w.merchants[0])) as svc, MerchantClient(svc.url) as shop:
        r = httpx.post(svc.url + "/escrow", json={"params": b64encode(p.canonical()), "txid": txid, "nonces": "A",
                                                  "presigs": [s.hex() for s in w.presigs]})
        assert r.status_code == 400 and r.json()["error"]["detail"].startswith("nonces")
        assert shop.announce(p, txid, w.tk.nonce_points(), w.presigs) == 0
        r = httpx.post(svc.url + "/ticket", content=b"{" * 70_000)  # the other routes keep the default limit
        assert r.status_code == 413
    assert w.merchants[0].nonces[esc.id_esc].points == tuple(w.tk.nonce_points())
