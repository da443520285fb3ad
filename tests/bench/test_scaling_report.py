"""``btcmicro bench scaling``'s report, from a report of the shape the run produces (the run itself starts
servers and a PostgreSQL cluster for minutes: it is a benchmark, not a test), and its CPU accounting."""
from __future__ import annotations

import os

from click.testing import CliRunner

from btcmicro.bench.scaling import _cpu, _tree, format_report
from btcmicro.cli import main


def _run(tx: float, cpu: float | None) -> dict:
    return {"transactions_per_s": tx, "transaction_latency": {"p50": 0.012}, "server_cpu_us": 1_500.0,
            "database_cpu_us": cpu, "client_cpu": 0.3, "errors": {}}


def test_report_names_every_configuration_and_the_generators_share():
    report = {"cpus": 2, "concurrency": 16, "duration": 5.0, "ceiling": {"requests_per_s": 4_000.0},
              "merchant": {f"{b}, {n} worker{'s' if n > 1 else ''}": _run(300.0 * n, None if b == "sqlite" else 210.0)
                           for b in ("sqlite", "postgresql") for n in (1, 2)},
              "vts": {f"{b}, {n} replica{'s' if n > 1 else ''}": _run(200.0, None if b == "sqlite" else 100.0)
                      for b in ("sqlite", "postgresql") for n in (1, 2)}}
    text = format_report(report)
    for name in [*report["merchant"], *report["vts"]]:
        assert name in text
    assert "generator 30% of a core" in text and "database 210 µs/tx" in text and "2 cores" in text


def test_cpu_of_a_process_tree_counts_this_process():
    assert os.getpid() in _tree(os.getpid()) and _cpu([os.getpid()]) > 0


def test_the_subcommand_is_registered():
    out = CliRunner().invoke(main, ["bench", "scaling", "--help"])
    assert out.exit_code == 0 and "--postgres" in out.output and "--quick" in out.output
