"""``btcmicro bench metered`` runs and reports its shape (the figures go to docs/metered.md)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from btcmicro.cli import main


def test_bench_metered_shape():
    result = CliRunner().invoke(main, ["--json", "bench", "metered", "--megabytes", "2", "--rounds", "1"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    assert set(r["median_mb_per_s"]) == {"direct", "unmetered proxy", "metered proxy"}
    assert r["bytes_metered"] >= 2 * 2_000_000 and r["metered_over_unmetered"] > 0 and isinstance(r["met"], bool)
