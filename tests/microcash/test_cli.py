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


def test_draw_command_recomputes_the_pinned_vector() -> None:
    from .test_attacks import VECTOR

    block = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
    args = ["--json", "microcash", "draw", "--block-hash", block, "--escrow", "11" * 32 + ":1", "--delay", "3",
            "--tkt-rate", "1000", "--draw-len", "3", "--p", "1/300"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["winners"] == VECTOR
    bad = CliRunner().invoke(main, args[1:-2] + ["--p", "1/7"])
    assert bad.exit_code != 0
