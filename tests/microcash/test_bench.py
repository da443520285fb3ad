"""The MicroCash bench runs and reports same-run ratios (no absolute figure is asserted: a shared machine)."""
from __future__ import annotations

from btcmicro.bench.microcash import run_microcash_bench


def test_bench_reports_rates_and_ratios() -> None:
    r = run_microcash_bench(batch=100, rounds=2)
    assert r["notary_claims"] == 2 and r["draw_payout_txid"]
    for k in ("customer_issue_per_s", "customer_issue_durable_per_s_wall", "merchant_check_per_s",
              "notary_claim_per_s"):
        assert r[k] > 0
    assert r["issue_over_sign"] >= 1 and r["check_over_verify"] >= 1
