"""The MICROPAY2-NI tour of ``btcmicro demo`` on the node (both engines)."""
from __future__ import annotations

import pytest

from btcmicro.tours import vuf

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def test_tour_claims_a_win_through_the_services_and_mines_it(rpc, funded, tmp_path):
    lines: list[str] = []
    report = vuf.tour(rpc, funded, tmp_path, lines.append)
    assert report["proof_bytes"] == 81 and report["confirmations"] == 1 and report["board_entries"] == 1
    assert report["claim_value"] >= vuf.PRICE << vuf.K
    assert any("published (sigma, y, pi, t, a_M)" in line for line in lines)
