"""The MICROPAY1 tour on the node (both engines), the CLI group (node-free commands) and the bench."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import coincurve
import pytest
from click.testing import CliRunner

from btcmicro.bench.micropay1 import format_report, package_vsizes, run_micropay1_bench
from btcmicro.cli import main
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay1 import LotteryOutput, Outpoint, commit_r1, sigma_digest
from btcmicro.tours.micropay1 import tour
from btcmicro.wallet import Funder


@pytest.mark.integration
@pytest.mark.both_engines
def test_tour_runs_on_the_node(rpc: Any, funded: Funder, tmp_path: Path) -> None:
    lines: list[str] = []
    report = tour(rpc, funded, tmp_path, lines.append)
    assert report["win"]["confirmations"] == 1
    assert "non-BIP68-final" in report["griefing"]["early_refund"]
    assert report["front_run"]["claim_gone"]
    json.dumps(report)
    assert len(lines) >= 4


def test_cli_predicate_and_script() -> None:
    key = PrivateKey(bytes(31) + b"\x05")
    r1, s = bytes(15) + b"\x01", b"\x33" * 16
    c, r2, a2, genesis = commit_r1(r1, s), bytes(15) + b"\x01", b"\x22" * 20, bytes(32)
    escrow = Outpoint(bytes(32), 1)
    sigma = coincurve.PrivateKey(key.to_bytes()).sign_schnorr(sigma_digest(genesis, escrow, c, r2, a2), bytes(32))
    args = ["--json", "micropay1", "predicate", "--c", c.hex(), "--r1", r1.hex(), "--s", s.hex(), "--r2", r2.hex(),
            "--sigma", sigma.hex(), "--pk-esc", key.pubkey.hex(), "--escrow", "00" * 32 + ":1", "--a2", a2.hex(),
            "--k", "7", "--genesis", genesis.hex()]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["release"] is True
    res = CliRunner().invoke(main, [*args[:-4], "--k", "7", "--genesis", "11" * 32])
    assert json.loads(res.output) == {"release": False, "code": "BAD_SIGMA",
                                      "detail": "sigma does not verify over (c, r2, a2, escrow) under pk_esc"}
    pk = [PrivateKey(bytes(31) + bytes([i])).pubkey for i in (1, 2)]
    res = CliRunner().invoke(main, ["--json", "micropay1", "script", "--commitments", f"{'11' * 32},{'22' * 32}",
                                    "--guesses", "63,1", "--merchant-key", pk[0].hex(), "--refund-key", pk[1].hex(),
                                    "--delay", "144"])
    assert res.exit_code == 0, res.output
    lo = LotteryOutput((b"\x11" * 32, b"\x22" * 32), (63, 1), pk[0], pk[1], 144)
    assert json.loads(res.output)["script"] == lo.script.hex()


def test_bench_quick_figures() -> None:
    r = run_micropay1_bench(quick=True)
    oc = r["onchain"]
    assert oc["micropay2_claim_vbytes"] == 149
    assert oc["rho=1/128"] == {**package_vsizes(7), "fees_max": oc["rho=1/128"]["fees_max"],
                               "ratio_max_vs_micropay2": oc["rho=1/128"]["ratio_max_vs_micropay2"]}
    # heaviest minus lightest: 63 + 1 preimage bytes and 2 script bytes (pushes 0x4f, 0x11 against OP_16 twice)
    assert oc["rho=1/128"]["package_max"] - oc["rho=1/128"]["package_min"] == 17
    assert r["micro"]["wins"] > 0 and "MICROPAY2 claim: 149 vB" in format_report(r)
