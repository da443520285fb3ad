"""``btcmicro microcash`` commands (no node)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from btcmicro.cli import main


def test_penalty_command_reproduces_figure3() -> None:
    out = CliRunner().invoke(main, ["microcash", "penalty", "--merchants", "10", "--d-redeem", "6"])
    assert out.exit_code == 0, out.output
    assert "4,131.60 sat" in out.output and "Theorem 1's rho is undefined" in out.output
    js = CliRunner().invoke(main, ["--json", "microcash", "penalty", "--beta", "1000"])
    data = json.loads(js.output)
    assert data["min_penalty"] == 309067 and data["winners_per_draw"] == 10 and data["draw_budget"] == 10000
