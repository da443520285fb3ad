"""``btcmicro bench micropay2 --quick``: every measurement runs and the report holds together.

This is a smoke run of the benchmark, not a timed test: no assertion depends on how fast the
machine is, only on the report's shape and on counts that follow from the protocol.
"""
from __future__ import annotations

import json

from click.testing import CliRunner

from btcmicro.bench.micropay2 import PAPER, format_report, web_capacity_bound
from btcmicro.cli import main


def test_quick_bench_reports_every_operation_both_web_regimes_and_the_targets():
    r = CliRunner().invoke(main, ["bench", "micropay2", "--quick", "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    micro = report["micro"]
    for name in [*PAPER, "Check Ticket (σ1 on win)", "raw sign", "raw verify"]:
        assert micro[name] > 0, name
    assert set(micro["ratios"]) == {"Make a Ticket", "Check Ticket", "Check Ticket (σ1 on win)", "VTS Check"}
    lo, hi = micro["ratio_range"]["VTS Check"]
    assert 0 < lo <= micro["ratios"]["VTS Check"] <= hi
    assert all(v["accepted"] > 0 for v in report["checks"].values())
    assert report["vts_claims"]["board"] == report["vts_claims"]["claims"] > 0  # one board entry per claim

    web = report["web"]
    assert set(web["capacity"]) == {"/base", "/ask + /base", "/ask + /buy"}
    assert set(web["offered"]) == {"/ask + /base", "/ask + /buy"}
    for regime in ("capacity", "offered"):
        for name, run in web[regime].items():
            assert run["transactions"] > 0, (regime, name)
            assert run["requests"] >= run["transactions"] * (2 if "/ask" in name else 1)
            assert run["server_cpu_us"] is None or run["server_cpu_us"] > 0
        assert web[regime]["/ask + /base"]["errors"] == {}
    # the offered load is a schedule: no run can go faster than it
    for run in web["offered"].values():
        assert run["transactions_per_s"] <= web["offered_rate"] * 1.05
        assert run["max_in_flight"] <= web["offered_connections"]

    cpu = web["cpu"]  # None only where /proc is missing
    if cpu is not None:
        assert cpu["rounds"] == len(cpu["difference_us_per_round"]) > 0
        assert set(cpu["server_cpu_us"]) == {"/ask + /base", "/ask + /buy"}
        assert all(n > 0 for n in cpu["transactions"].values())
    targets = {t["target"]: t for t in report["targets"]}
    assert len(targets) == (6 if web.get("cpu") else 5) and all(isinstance(t["ok"], bool) for t in targets.values())
    bound = web_capacity_bound(report)
    assert bound is None or 0 < bound < 1
    text = format_report(report)
    assert "VTS Check" in text and "the paper's load" in text and "targets:" in text
