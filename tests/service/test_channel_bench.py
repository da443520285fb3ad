"""``btcmicro bench channel`` runs end to end on a small count and reports figures that hold together."""
from __future__ import annotations

import pytest

from btcmicro.bench.channel import format_report, run_channel_bench

pytestmark = pytest.mark.integration


def test_bench_channel_small_run_reports_rates_and_lifecycle_sizes():
    report = run_channel_bench(payments=20, engine="embedded")
    for part in ("in_process", "http_loopback"):
        assert report[part]["payments_per_s"] > 0
        assert report[part]["seconds"] * report[part]["payments_per_s"] == pytest.approx(20, rel=0.05)  # both rounded
    assert report["raw_sign_plus_verify_us"] > 0 and report["payment_over_sign_verify"] > 1
    by = {lc["version"]: lc for lc in report["lifecycles"]}
    assert [by[v]["deposit_script_type"] for v in (1, 2, 3)] == ["multisig", "scripthash", "witness_v0_scripthash"]
    for lc in by.values():
        for step in ("deposit", "close", "refund"):  # fee = vsize x 2 sat/vB, as the parties computed it
            assert 2 * lc[step]["vsize"] <= lc[step]["fee"] <= 2 * (lc[step]["vsize"] + 2)
    assert by[3]["close"]["vsize"] < by[2]["close"]["vsize"]  # the witness discount on the 2-signature close
    assert "payments/s" in format_report(report)
