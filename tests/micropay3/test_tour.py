"""The MICROPAY3 tour runs end to end on the node (both engines): happy releases with zero VTS
calls, one aborted prize through the VTS, one orphan refunded after W, a clean audit."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import btcmicro.lottery.micropay3  # noqa: F401  (the lottery before the tour's service imports)
from btcmicro.tours import micropay3
from btcmicro.wallet import Funder

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def test_tour(rpc: Any, funded: Funder, tmp_path: Path) -> None:
    lines: list[str] = []
    report = micropay3.tour(rpc, funded, tmp_path, lines.append)
    assert report["bought"] > 0 and report["wins"] >= 1
    assert report["vts_calls_on_happy_path"] == 0
    assert all(r["confirmations"] >= 1 for r in report["releases"])
    assert report["orphan"] and report["orphan"]["refused_before_window"] == micropay3.WINDOW - 1
    assert report["audit"]["ok"], report["audit"]
    assert any("resolve orphaned" in line for line in lines)
