"""Micropay 2 on a real node, both engines: a payer that spends one voucher at two points of sale
loses its whole escrow (d + p) to the merchant, who signs branch 1 with the payer's key extracted
from the two assertions — the paper's key insight, with no new opcode. The node judges the spend."""
from __future__ import annotations

import pytest

from btcmicro.channels.dastripathi import MerchantEvent, PayerStatus, collect
from btcmicro.core.errors import NodeError
from btcmicro.node.chain import RPCChain

from .pos import shop

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

DEPOSIT, PENALTY = 60_000, 30_000


@pytest.fixture
def chain(rpc, bank) -> RPCChain:
    bank.ensure_balance(5 * (DEPOSIT + PENALTY))
    return RPCChain(rpc)


@pytest.mark.parametrize("scheme,bits", [("tree", 16), ("nonce", 8)])
def test_equivocating_payer_loses_its_deposit_on_chain(chain, bank, scheme, bits):
    s = shop(chain, bank, n=2, deposit=DEPOSIT, penalty=PENALTY, expiry=chain.height() + 5, scheme=scheme,
             context_bits=bits, confirm=lambda: bank.confirm(1))
    s.pay_at(0, 1_000)
    held = s.payer.store.channel(s.escrow_id).voucher
    s.pay_at(0, 5_000)
    s.pay_at(1, 5_000, voucher=held)  # the same voucher (k = 1) at B_2, with B_2's nonce
    (c,) = collect(s.merchant, [p.store for p in s.pos])
    assert c.action == "penalty" and c.broadcast_error is None, c
    bank.confirm(1)
    assert s.merchant.tick() == [(s.escrow_id, MerchantEvent.CONFIRMED)]
    assert s.payer.watch(s.escrow_id) is PayerStatus.CLOSED
    tx = chain.rpc.call("getrawtransaction", c.txid, 1)
    assert tx["confirmations"] == 1 and len(tx["vout"]) == 1
    assert round(tx["vout"][0]["value"] * 100_000_000) == DEPOSIT + PENALTY
    assert bytes.fromhex(tx["vout"][0]["scriptPubKey"]["hex"]) == s.merchant.payout_spk


def test_honest_payer_is_closed_with_its_best_payment(chain, bank):
    s = shop(chain, bank, n=2, deposit=DEPOSIT, penalty=PENALTY, expiry=chain.height() + 5,
             confirm=lambda: bank.confirm(1))
    s.pay_at(0, 1_000)
    s.pay_at(1, 2_000)
    (c,) = collect(s.merchant, [p.store for p in s.pos])
    assert (c.action, c.paid, c.broadcast_error) == ("close", 3_000, None)
    bank.confirm(1)
    out = chain.rpc.call("getrawtransaction", c.txid, 1)["vout"]
    assert [round(o["value"] * 100_000_000) for o in out] == [3_000, DEPOSIT + PENALTY - 3_000]


def test_micropay3_ring_vouchers_equivocation_penalty_on_chain(chain, bank):
    """Micropay 3 [reconstructed]: ring-signed vouchers hide the serving point of sale; the same
    voucher spent at two of three still reveals the key, and the penalty is mined."""
    s = shop(chain, bank, n=3, deposit=DEPOSIT, penalty=PENALTY, expiry=chain.height() + 5, ring=True,
             slot=1_000_000, confirm=lambda: bank.confirm(1))
    s.pay_at(0, 1_000)
    held = s.payer.store.channel(s.escrow_id).voucher
    s.pay_at(1, 2_000)
    s.pay_at(2, 2_000, voucher=held)
    (c,) = collect(s.merchant, [p.store for p in s.pos])
    assert c.action == "penalty" and c.broadcast_error is None
    bank.confirm(1)
    out = chain.rpc.call("getrawtransaction", c.txid, 1)["vout"]
    assert [round(o["value"] * 100_000_000) for o in out] == [DEPOSIT + PENALTY]


@pytest.mark.parametrize("first", ["refund", "penalty"])
def test_late_penalty_races_the_refund(chain, bank, first):
    """§6.6 item 5: collecting after t, the merchant's penalty and the payer's refund are both valid;
    whichever reaches the node first wins (same fee: no replacement) — why B collects by t - T_conf."""
    s = shop(chain, bank, n=2, deposit=DEPOSIT, penalty=PENALTY, expiry=chain.height() + 3,
             confirm=lambda: bank.confirm(1))
    held = s.payer.store.channel(s.escrow_id).voucher
    s.pay_at(0, 1_000, voucher=held)
    s.pay_at(1, 1_000, voucher=held)
    bank.confirm(s.merchant.store.channel(s.escrow_id).terms.expiry - chain.height())  # t reached
    if first == "refund":
        s.payer.refund(s.escrow_id)
        (c,) = collect(s.merchant, [p.store for p in s.pos])
        assert c.action == "penalty" and c.broadcast_error is not None  # the node keeps the refund
        bank.confirm(1)
        assert s.payer.watch(s.escrow_id) is PayerStatus.REFUNDED
    else:
        (c,) = collect(s.merchant, [p.store for p in s.pos])
        assert c.broadcast_error is None
        with pytest.raises(NodeError):
            s.payer.refund(s.escrow_id)
        bank.confirm(1)
        assert s.payer.watch(s.escrow_id) is PayerStatus.CLOSED
