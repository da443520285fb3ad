"""The engine benchmark runs end to end (its figures are not asserted: see docs/benchmarks.md)."""
import pytest

from btcmicro.bench.engine import format_report, run_engine_bench

pytestmark = pytest.mark.integration


def test_engine_bench_confirms_every_transaction_it_sends():
    report = run_engine_bench(txs=40, engines="embedded")
    durable, nofsync = report["results"]  # the embedded engine, then the same without the block record's fsync
    assert (durable["engine"], nofsync["engine"]) == ("embedded", "embedded-nofsync")
    for result in (durable, nofsync):
        assert result["transactions"] == 40
        assert result["mine_blocks"] >= 1
        assert result["sampled_confirmed"] == len(range(0, 40, 2))  # every sampled tx confirmed
    assert set(report["durability_cost"]) == {"start_s", "blocks_101_s", "blocks_1x100_s", "send_s", "mine_s"}
    text = format_report(report)
    assert "embedded-nofsync" in text and "crash safety" in text and report["machine"] in text
