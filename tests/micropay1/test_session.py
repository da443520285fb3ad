"""MICROPAY1-sub end to end on the node, both engines, one body: a winning ticket claimed as a
parent-child package through submitpackage; a losing ticket proven lost and the escrow reused."""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from btcmicro.bench.micropay1 import package_vsizes
from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.micropay1 import Merchant, Payer, RequestState, SQLiteMerchantStore, SQLitePayerStore, vsize
from btcmicro.wallet import Funder

from .nodekit import VALUE, Kit

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


@pytest.fixture
def kit(rpc: Any, funded: Funder) -> Kit:
    return Kit(rpc, funded)


def test_winning_ticket_claimed_as_a_package(kit: Kit) -> None:
    payer, merchant = kit.payer(), kit.merchant()
    escrow = payer.fund_escrow(VALUE)
    kit.mine()
    req, ticket = kit.ticket(payer, merchant, escrow, won=True)
    acc = merchant.accept(ticket)
    assert acc.won and acc.r1 is None
    tx1, tx2 = merchant.claim_package(req.request_id)
    bounds = package_vsizes(9)  # the bench's figures (72-byte signatures) bound the signed sizes
    assert bounds["tx1"] - 1 <= vsize(tx1) <= bounds["tx1"]
    assert bounds["tx2_min"] - 1 <= vsize(tx2) <= bounds["tx2_max"]
    txid1, txid2 = merchant.claim(req.request_id)
    assert [kit.rpc.getrawtransaction(t, True)["vsize"] for t in (txid1, txid2)] == [vsize(tx1), vsize(tx2)]
    assert set(kit.rpc.getrawmempool()) >= {txid1, txid2}
    kit.mine()
    assert kit.confirmations(txid1) == kit.confirmations(txid2) == 1
    assert merchant.record(req.request_id).state == RequestState.CLAIMED
    paid = kit.chain.get_utxo(txid2, 0)
    assert paid is not None and paid.value == tx2.vout[0].nValue  # the escrow less the two fees


def test_losing_ticket_proven_lost_then_the_escrow_pays_again(kit: Kit) -> None:
    payer, merchant = kit.payer(), kit.merchant()
    escrow = payer.fund_escrow(VALUE)
    kit.mine()
    req, ticket = kit.ticket(payer, merchant, escrow, won=False)
    acc = merchant.accept(ticket)
    assert not acc.won and acc.r1 is not None and acc.s is not None
    payer.lost(escrow, acc.r1, acc.s, req)
    merchant2 = kit.merchant()
    req2, ticket2 = kit.ticket(payer, merchant2, escrow, won=True)
    assert merchant2.accept(ticket2).won
    _, txid2 = merchant2.claim(req2.request_id)
    kit.mine()
    assert kit.confirmations(txid2) == 1


def test_parties_restarted_on_their_files_claim_and_refund(kit: Kit, tmp_path: Path) -> None:
    """Both parties' state is in SQLite: a merchant restarted after accepting a win still claims it
    and refuses the ticket's replay; a restarted payer still refuses a second ticket on the escrow."""
    m_secret, p_secret = secrets.token_bytes(32), secrets.token_bytes(32)

    def merchant() -> Merchant:
        return Merchant(m_secret, kit.chain, SQLiteMerchantStore(tmp_path / "m.sqlite"), k=9, genesis=kit.genesis,
                        rng=secrets.token_bytes, submit_package=kit.submit)

    def payer() -> Payer:
        return Payer(p_secret, kit.chain, SQLitePayerStore(tmp_path / "p.sqlite"), kit.funded, genesis=kit.genesis,
                     rng=secrets.token_bytes, delay=3)

    m, p = merchant(), payer()
    escrow = p.fund_escrow(VALUE)
    kit.mine()
    req, ticket = kit.ticket(p, m, escrow, won=True)
    assert m.accept(ticket).won
    m.store.close()
    p.store.close()
    m, p = merchant(), payer()
    with pytest.raises(ProtocolError, match="UNEXPECTED_EVENT"):
        m.accept(ticket)
    with pytest.raises(ProtocolError, match="UNEXPECTED_EVENT"):
        p.pay(m.request(), escrow)
    _, txid2 = m.claim(req.request_id)
    kit.mine()
    assert kit.confirmations(txid2) == 1 and m.record(req.request_id).state == RequestState.CLAIMED
