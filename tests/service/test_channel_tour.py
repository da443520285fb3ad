"""The channel tour ``btcmicro demo`` runs: 1,000 payments over HTTP, the settlement on chain."""
from __future__ import annotations

import pytest

from btcmicro.node.rpc import sats
from btcmicro.tours.channel import DEPOSIT, PAYMENT, PAYMENTS, tour

pytestmark = pytest.mark.integration


def test_channel_tour_settles_1000_payments_on_chain(rpc, funded, tmp_path):
    lines: list[str] = []
    report = tour(rpc, funded, tmp_path, lines.append)
    paid = PAYMENT * (PAYMENTS + 1)  # the initial minimum payment, then 1,000
    close = rpc.getrawtransaction(report["close_txid"], True)
    assert close["confirmations"] >= 1 and close["vin"][0]["txid"] == report["deposit_txid"]
    assert [sats(o["value"]) for o in close["vout"]] == [DEPOSIT - paid, paid - report["close_fee_sats"]]
    assert report["paid_sats"] == paid and report["payments"] == PAYMENTS + 1
    assert 0 < report["close_fee_sats"] < 1_000 and report["payments_per_s"] > 0
    assert any("1,000 payments" in line for line in lines)
