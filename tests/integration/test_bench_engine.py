"""The engine benchmark runs end to end (its figures are not asserted: see docs/benchmarks.md)."""
import pytest

from btcmicro.bench.engine import format_report, run_engine_bench

pytestmark = pytest.mark.integration


def test_engine_bench_confirms_every_transaction_it_sends():
    report = run_engine_bench(txs=40, engines="embedded")
    (result,) = report["results"]
    assert result["engine"] == "embedded"
    assert result["transactions"] == 40
    assert result["mine_blocks"] >= 1
    assert result["sampled_confirmed"] == len(range(0, 40, 2))  # every sampled tx confirmed
    text = format_report(report)
    assert "embedded" in text and report["machine"] in text
