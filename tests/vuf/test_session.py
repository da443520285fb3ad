"""MICROPAY2-NI end to end on the node, one body on both engines: escrows funded in one transaction,
tickets paid against the merchant's one fixed offer (no request round trip), a win claimed through the
VTS (which checks sigma, sigma1, the ECVRF proof and the win) and mined. Every spend is judged by the node."""
from __future__ import annotations

import secrets

import pytest

from btcmicro.core.errors import NodeError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.vuf import (
    VTS,
    EscrowStatus,
    Merchant,
    Offer,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVufVTSStore,
    WinStatus,
    audit,
    verify_log,
)
from btcmicro.node.chain import RPCChain
from btcmicro.script.standard import p2wpkh
from btcmicro.tx.build import TxBuilder
from btcmicro.tx.sign import sign_p2wpkh
from btcmicro.wire import b64decode

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

PRICE = 40_000
K = 1  # rho = 1/2: a quick win
VALUE = (PRICE << K) + 20_000


def test_escrow_funded_tickets_paid_win_claimed_through_the_vts_and_mined(rpc, funded, tmp_path):
    chain = RPCChain(rpc)
    vts = VTS(PrivateKey.generate(), SQLiteVufVTSStore(tmp_path / "vts.sqlite"), chain=chain)
    a_m_key = PrivateKey.generate()
    merchant = Merchant(secrets.randbelow(2**255) + 1, bytes(p2wpkh(a_m_key.pubkey)), chain,
                        SQLiteMerchantStore(tmp_path / "merchant.sqlite"), [vts.pubkey], k=K, price=PRICE)
    payer = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(tmp_path / "payer.sqlite"), vts.pubkey,
                  funder=funded, max_price=PRICE)
    escrows = payer.fund_escrows([VALUE] * 4, chain.height() + 100)
    assert len({e.txid for e in escrows}) == 1
    for e in escrows:
        assert chain.get_utxo(e.txid, e.vout).script_pubkey == e.script_pubkey
    funded.confirm(1)
    payer.refresh()

    offer_text = merchant.offer.to_b64()  # the one fixed first message, fetched once
    won = None
    for _ in range(40):
        ticket = payer.pay(Offer.from_b64(offer_text))  # as text over the wire
        acc = merchant.check(b64decode(ticket.to_b64()))
        if acc.won:
            won = (ticket, acc.t)
            break
    assert won is not None, "no win in 40 tickets at rho = 1/2"
    ticket, t = won
    result = merchant.claim(t, vts)
    payer.retire(*ticket.escrow.outpoint)

    assert chain.get_tx(result.txid) is not None
    funded.confirm(1)
    tx = rpc.call("getrawtransaction", result.txid, 1)
    assert tx["confirmations"] == 1
    assert tx["vin"][0]["txid"] == ticket.escrow.txid and tx["vin"][0]["vout"] == ticket.escrow.vout
    out = chain.get_utxo(result.txid, 0)
    assert out.value == ticket.claim_value >= PRICE << K and out.script_pubkey == merchant.offer.a_m
    assert merchant.store.win(t).status == WinStatus.BROADCAST
    entries = vts.board.entries()
    verify_log(entries, vts.pubkey)
    assert [e.x.t.encode() for e in entries] == [t]

    # the merchant owns a_M: it spends the claim output (judged by the node)
    b = TxBuilder().add_input(result.txid, 0, out.value, out.script_pubkey)
    built = b.build(bytes(p2wpkh(PrivateKey.generate().pubkey)), 2000)
    sign_p2wpkh(built.tx, 0, a_m_key, out.value)
    assert chain.test_accept(built.tx.serialize().hex()) is None

    payer.refresh()
    assert payer.store.find(*ticket.escrow.outpoint).status == EscrowStatus.CLAIMED

    # the audit: the board against the chain, clean for an honest VTS ...
    start = chain.height() - 3
    assert audit(vts.pubkey, vts.board.entries(), chain, from_height=start).ok
    # ... and a VTS that co-signs a losing ticket's claim off the board is caught from the chain alone
    for _ in range(40):
        tk, acc, proof = merchant.verify(payer.pay(merchant.offer))
        if not acc.won:
            break
    x = tk.claim(merchant.offer, proof)
    assert x.problems() and x.problems()[0][0] == "LOSING_TICKET"
    cheat = Merchant.claim_transaction(x, vts.key.sign(x.claim_sighash()))
    chain.broadcast(cheat.serialize().hex())
    funded.confirm(1)
    report = audit(vts.pubkey, vts.board.entries(), chain, from_height=start)
    assert "UNPUBLISHED_CLAIM" in report.kinds()


def test_claim_without_the_vts_signature_is_refused_by_the_node(rpc, funded, tmp_path):
    """sigma1 alone (or with another key's signature in the VTS slot) does not open the escrow."""
    chain = RPCChain(rpc)
    vts = VTS(PrivateKey.generate(), SQLiteVufVTSStore(":memory:"))
    a_m = bytes(p2wpkh(PrivateKey.generate().pubkey))
    merchant = Merchant(12345, a_m, chain, SQLiteMerchantStore(":memory:"), [vts.pubkey], k=K, price=PRICE)
    payer = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(":memory:"), vts.pubkey, funder=funded,
                  max_price=PRICE)
    payer.fund_escrows([VALUE], chain.height() + 100)
    funded.confirm(1)
    payer.refresh()
    ticket = payer.pay(merchant.offer)
    tk, acc, proof = merchant.verify(ticket)
    x = tk.claim(merchant.offer, proof)
    forged = PrivateKey.generate().sign(x.claim_sighash())
    tx = Merchant.claim_transaction(x, forged)
    with pytest.raises(NodeError):
        chain.broadcast(tx.serialize().hex())


def test_refund_refused_before_the_expiry_and_mined_after_it(rpc, funded, tmp_path):
    """The escrow's CLTV path: the payer's refund is judged by the node, too early and on time."""
    chain = RPCChain(rpc)
    vts = VTS(PrivateKey.generate(), SQLiteVufVTSStore(":memory:"))
    payer = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(tmp_path / "payer.sqlite"), vts.pubkey,
                  funder=funded, max_price=PRICE)
    expiry = chain.height() + 4
    (e,) = payer.fund_escrows([VALUE], expiry)
    funded.confirm(1)
    payer.refresh()
    dest = funded.address()
    with pytest.raises(NodeError):
        chain.broadcast(payer.refund_tx(e.txid, e.vout, dest).serialize().hex())  # non-final: too early
    with pytest.raises(NodeError):
        payer.refund(e.txid, e.vout)
    assert payer.store.find(e.txid, e.vout).status == EscrowStatus.LIVE  # a refused refund changes nothing
    funded.confirm(expiry - chain.height())
    rtxid = payer.refund(e.txid, e.vout)
    assert payer.store.find(e.txid, e.vout).status == EscrowStatus.REFUNDING
    funded.confirm(1)
    payer.refresh()
    assert payer.store.find(e.txid, e.vout).status == EscrowStatus.REFUNDED
    assert rpc.call("getrawtransaction", rtxid, 1)["confirmations"] == 1
