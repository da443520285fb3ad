"""The MicroCash tour runs end to end on the node (both engines)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from btcmicro.tours import microcash
from btcmicro.wallet import Funder

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def test_tour(rpc: Any, funded: Funder, tmp_path: Path) -> None:
    lines: list[str] = []
    report = microcash.tour(rpc, funded, tmp_path, lines.append, delay=1 << 12)
    assert [d["winners"] for d in report["draws"]] == [report["winners_per_draw"]] * 2
    assert report["draws"][0]["accepted"] == report["winners_per_draw"] and not report["draws"][0]["broke"]
    assert report["draws"][1]["broke"] and report["burn"]["burned"] > 0
    assert report["audit"]["ok"], report["audit"]
    assert report["burn"]["duplicates_paid"] >= 1 and any("burned to OP_RETURN" in line for line in lines)
