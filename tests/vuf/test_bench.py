"""``btcmicro bench vuf`` runs and reports what docs/vuf.md records (a smoke run: figures are not asserted)."""
from __future__ import annotations

from click.testing import CliRunner

from btcmicro.bench.vuf import format_report, run_vuf_bench
from btcmicro.cli.bench import bench


def test_bench_reports_rates_ratios_and_sizes():
    r = run_vuf_bench(n=20, repeats=1)
    assert r["sizes"]["proof"] == 81 and 330 <= r["sizes"]["ticket"] <= 340
    assert set(r["ratios"]) and all(v > 0 for v in r["ratios"].values())
    assert r["microcash"]["ticket_bytes"] == 274
    text = format_report(r)
    assert "VTS check" in text and "2,561" in text


def test_bench_vuf_command():
    out = CliRunner().invoke(bench, ["vuf", "--tickets", "10", "--rounds", "1", "--json"], obj=None)
    assert out.exit_code == 0, out.output
    assert '"proof": 81' in out.output
