"""The Das–Tripathi tour ``btcmicro demo`` runs: the channel closed on chain, the penalty mined, the
microcoins settled and the double spend's sweep mined."""
from __future__ import annotations

import pytest

from btcmicro.tours.dastripathi import COIN_UNIT, COINS, DEPOSIT, PAYMENTS, PENALTY, PRICE, tour

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def test_tour_closes_the_channel_and_mines_the_penalty(rpc, bank, tmp_path):
    bank.ensure_balance(6 * (DEPOSIT + PENALTY))
    lines: list[str] = []
    report = tour(rpc, bank, tmp_path, lines.append)
    one = report["micropay1"]
    assert (one["paid"], one["status"], one["confirmations"]) == (PAYMENTS * PRICE, "closed", 1)
    two = report["micropay2"]
    assert two["action"] == "penalty" and two["confirmations"] == 1 and two["to_merchant"] == DEPOSIT + PENALTY
    assert any("reveal the payer's Bitcoin key" in line for line in lines)
    coins = report["microcoins"]
    assert (coins["owed"], coins["answer"], coins["confirmations"]) == (COINS * COIN_UNIT, "DOUBLE_SPEND", 1)
    assert coins["to_merchant"] == DEPOSIT + PENALTY
