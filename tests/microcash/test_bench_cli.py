"""`btcmicro bench microcash`: the report's shape and counts (no speed is asserted)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from btcmicro.cli import main


def test_bench_microcash_reports_rates_ratios_and_the_papers_figures() -> None:
    result = CliRunner().invoke(main, ["bench", "microcash", "--batch", "100", "--rounds", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["batch"] == 100 and report["rounds"] == 2
    for key in ("customer_issue_per_s", "merchant_check_per_s", "notary_claim_per_s",
                "raw_bip340_sign_per_s", "raw_bip340_verify_per_s", "issue_over_sign", "check_over_verify"):
        assert report[key] > 0, key
    assert report["notary_claims"] == 2  # p = 1/100 of 200 tickets: exactly W = 2 winners in the draw
    assert set(report["targets"]) == {"customer", "merchant", "notary"}


def test_bench_microcash_refuses_a_batch_that_gives_no_whole_winner_count() -> None:
    result = CliRunner().invoke(main, ["bench", "microcash", "--batch", "150", "--rounds", "1"])
    assert result.exit_code != 0 and "multiple of 100" in result.output
    assert "Traceback" not in result.output
