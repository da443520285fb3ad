"""`bench microcash`'s on-chain comparison with sequential MICROPAY2 (SCHEMES.md §5.8): its figures come
from the transactions the library builds, and the model's arithmetic holds."""
from __future__ import annotations

import math

from bitcoin.core import CTransaction

from btcmicro.bench.microcash import compare_micropay2, draw_payout, format_comparison
from btcmicro.lottery.microcash.messages import Claim
from btcmicro.tx.size import vsize

from .fakes import FakeWorld


def test_the_comparison_at_the_papers_rate_needs_over_1000_micropay2_escrows_against_one() -> None:
    c = compare_micropay2()
    assert c["escrows_at_once"] == {"micropay2": math.ceil(33_006 * 31 / 1000), "microcash": 1}
    assert c["escrows_at_once"]["micropay2"] > 1_000
    mc, m2 = c["microcash"], c["micropay2"]
    assert mc["winners_per_draw"] * 8192 == mc["tkt_rate_per_block"] and mc["groups"] == 48
    # the per-1,000-ticket figures are the model applied to the measured transactions
    session = 33_006 * 600 * 48
    per_escrow = m2["pool"]["vbytes"] / m2["pool_escrows"]
    want_m2 = 1000 / 8192 * (m2["claim"]["vbytes"] + per_escrow) + 1000 * 1024 * (
        per_escrow + m2["refund"]["vbytes"]) / session
    want_mc = 1000 * (mc["creation"]["vbytes"] + 48 * (mc["payout"]["vbytes"] + mc["refund_group"]["vbytes"])
                      + mc["refund_penalty"]["vbytes"]) / mc["tickets_per_escrow"]
    per = c["per_1000_tickets"]
    assert math.isclose(per["micropay2"]["vbytes"], want_m2) and math.isclose(per["microcash"]["vbytes"], want_mc)
    assert per["microcash"]["vbytes"] < per["micropay2"]["vbytes"]
    assert c["fees_per_1000_tickets"]["micropay2"][10] == 10 * per["micropay2"]["vbytes"]
    # the transactions are real: a payout grows by one P2WPKH output (31 vB) per winner, a pool by one
    # P2WSH output (43 vB) per escrow; a witness makes bytes exceed vbytes
    assert mc["payout"]["vbytes"] - 31 * mc["winners_per_draw"] in range(100, 300)
    assert m2["pool"]["vbytes"] - 43 * m2["pool_escrows"] in range(50, 200)
    for t in (mc["creation"], mc["refund_group"], m2["claim"], m2["refund"]):
        assert t["bytes"] > t["vbytes"]
    text = format_comparison(c)
    assert "1,024" in text and "MICROPAY2 puts" in text


def test_a_lower_rate_needs_fewer_escrows_and_smaller_draws() -> None:
    lo = compare_micropay2(rate=3_300, l_esc=48)
    hi = compare_micropay2()
    assert lo["escrows_at_once"]["micropay2"] == math.ceil(3_300 * 0.031) == 103
    assert lo["microcash"]["winners_per_draw"] < hi["microcash"]["winners_per_draw"]
    dw = hi["microcash"]["winners_per_draw"] - lo["microcash"]["winners_per_draw"]
    assert hi["microcash"]["payout"]["vbytes"] - lo["microcash"]["payout"]["vbytes"] in range(31 * dw, 31 * dw + 4)


def test_the_bench_payout_has_the_size_of_ns_real_payout() -> None:
    w = FakeWorld()
    esc = w.create()
    w.mine_to(w.params.start_height)
    for _ in range(w.params.tkt_rate):
        assert w.merchants[0].receive(w.customer.pay(0).encode()) is None
    w.mine_to(w.params.t_draw(0))
    claims = w.merchants[0].claims(esc.id_esc, 0)
    for c in claims:
        assert w.notary.claim(c.encode()) == "accepted"
    txid = w.notary.settle(esc.id_esc, 0)
    assert txid is not None
    status = w.chain.get_tx(txid)
    assert status is not None
    real = CTransaction.deserialize(bytes.fromhex(status.hex))
    ours = draw_payout(esc, w.nk, [Claim.decode(c.encode()).payout_spk for c in claims])
    assert len(ours.vout) == len(real.vout) == w.params.winners + 2  # winners, commitment, change
    assert abs(vsize(CTransaction.from_tx(ours)) - vsize(real)) <= 1  # a DER signature is 71 or 72 bytes
