"""``btcmicro bench micropay3`` runs (a smoke run) and reports every figure it promises."""
from __future__ import annotations

import btcmicro.lottery.micropay3  # noqa: F401  (the lottery first: the bench module imports the node stack)
from btcmicro.bench.micropay3 import format_report, run_micropay3_bench


def test_bench_reports_ratios_and_onchain_cost_per_win() -> None:
    r = run_micropay3_bench(quick=True)
    m, oc = r["micro"], r["onchain"]
    assert set(m["ratios"]) == {"Make a Ticket", "Check Ticket", "VTS Check"}
    assert all(v > 0 for v in m["ratios"].values())
    happy = oc["happy"]
    assert happy["vbytes"] == happy["tx1_vbytes"] + happy["tx2_vbytes"] <= happy["estimate_vbytes"]
    assert oc["happy"]["fees"] > oc["micropay2_claim"]["fees"] and oc["ratio_vbytes"] > 1
    text = format_report(r)
    assert "MICROPAY2 claim" in text and "Make a Ticket" in text
