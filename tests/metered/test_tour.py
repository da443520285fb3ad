"""The metered step of ``btcmicro demo`` on the node: login, 3 MB paid ahead, settlement mined."""
from __future__ import annotations

import pytest

from btcmicro.tours.metered import DEPOSIT, tour

pytestmark = [pytest.mark.integration]


def test_metered_tour(rpc, funded, tmp_path):
    lines: list[str] = []
    r = tour(rpc, funded, tmp_path, lines.append)
    assert r["wrong_password_status"] == 401 and r["opening"][-1] == "open"
    assert r["bytes"] == 3_000_000 and r["payments"] == 3 and r["paid"] == 40_000
    assert r["remaining"] == DEPOSIT - 40_000 and r["close_outputs"][0] == r["remaining"]
    assert rpc.getrawtransaction(r["close_txid"], True)["confirmations"] >= 1
    assert any("current price is 10000 satoshis / megabyte" in line for line in lines)
