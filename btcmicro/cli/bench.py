"""``btcmicro bench engine|channel|micropay2|vuf``: the benchmarks (figures go to docs/benchmarks.md)."""
from __future__ import annotations

import click

from btcmicro.cli._common import BITCOIND_OPT, JSON_OPT, emit, engine_option

__all__ = ["bench", "bench_channel", "bench_engine", "bench_micropay2", "bench_vuf", "bench_micropay3",
           "bench_micropay1", "bench_scaling"]


@click.group()
def bench() -> None:
    """Benchmarks (figures go to docs/benchmarks.md)."""


@bench.command("engine")
@click.option("--txs", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--engines", default="auto", show_default=True,
              help="Comma list of engines to run (auto = every available one).")
@BITCOIND_OPT
@JSON_OPT
@click.pass_context
def bench_engine(ctx: click.Context, txs: int, engines: str, bitcoind_path: str | None, json_out: bool) -> None:
    """Start + 101 blocks, and TXS transactions through sendrawtransaction and into blocks, per engine."""
    from btcmicro.bench.engine import format_report, run_engine_bench

    report = run_engine_bench(txs=txs, engines=engines, bitcoind=bitcoind_path,
                              echo=None if json_out else lambda m: click.echo(m, err=True))
    emit(ctx, report, format_report(report))


@bench.command("channel")
@click.option("--payments", type=click.IntRange(10, 1_000_000), default=1_000, show_default=True)
@click.option("--clients", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Above 1: also this many channels paying at once over HTTP (one thread each).")
@click.option("--per-client", type=click.IntRange(1, 100_000), default=200, show_default=True,
              help="Payments each of the --clients channels makes.")
@click.option("--no-lifecycles", is_flag=True, help="Skip the on-chain lifecycles of v1, v2 and v3.")
@engine_option(default="embedded")
@JSON_OPT
@click.pass_context
def bench_channel(ctx: click.Context, payments: int, clients: int, per_client: int, no_lifecycles: bool,
                  engine: str, json_out: bool) -> None:
    """Payments/s in-process and over HTTP (file stores, synchronous FULL), one payment next to a raw
    sign + verify, CLIENTS channels paying at once over HTTP (with the CPU of both sides), and the
    on-chain bytes and fees of v1, v2 and v3 lifecycles."""
    from btcmicro.bench.channel import format_report, run_channel_bench

    report = run_channel_bench(payments=payments, engine=engine, clients=clients, per_client=per_client,
                               lifecycles=not no_lifecycles,
                               echo=None if json_out else lambda m: click.echo(m, err=True))
    emit(ctx, report, format_report(report))


@bench.command("micropay2")
@click.option("--quick", is_flag=True, help="Fewer iterations and shorter load runs (a smoke run).")
@click.option("--no-web", is_flag=True, help="Skip the web experiment.")
@JSON_OPT
@click.pass_context
def bench_micropay2(ctx: click.Context, quick: bool, no_web: bool, json_out: bool) -> None:
    """The paper's §4.2 table and §4.3 web experiment: ours next to theirs, with the targets checked."""
    from btcmicro.bench.micropay2 import format_report, run_micropay2_bench

    report = run_micropay2_bench(quick=quick, web=not no_web,
                                 echo=None if json_out else lambda m: click.echo(m, err=True))
    emit(ctx, report, format_report(report))


@bench.command("vuf")
@click.option("--tickets", type=click.IntRange(10, 100_000), default=400, show_default=True)
@click.option("--rounds", type=click.IntRange(1, 50), default=5, show_default=True)
@JSON_OPT
@click.pass_context
def bench_vuf(ctx: click.Context, tickets: int, rounds: int, json_out: bool) -> None:
    """MICROPAY2-NI: merchant prove + ticket check and VTS check per core, next to the raw point
    multiplications and verifies they contain (same rounds) and to MicroCash's Table 1; sizes."""
    from btcmicro.bench.vuf import format_report, run_vuf_bench

    report = run_vuf_bench(n=tickets, repeats=rounds, echo=None if json_out else lambda m: click.echo(m, err=True))
    emit(ctx, report, format_report(report))


@bench.command("micropay3")
@click.option("--quick", is_flag=True, help="Fewer iterations (a smoke run).")
@JSON_OPT
@click.pass_context
def bench_micropay3(ctx: click.Context, quick: bool, json_out: bool) -> None:
    """Make/Check Ticket and the VTS check next to the raw signs/verifies of the same run, and the
    on-chain cost of a win (tx_1 + tx_2) against MICROPAY2's single claim."""
    from btcmicro.bench.micropay3 import format_report, run_micropay3_bench

    report = run_micropay3_bench(quick=quick, echo=None if json_out else lambda m: click.echo(m, err=True))
    emit(ctx, report, format_report(report))


@bench.command("micropay1")
@click.option("--quick", is_flag=True, help="Fewer iterations (a smoke run).")
@JSON_OPT
@click.pass_context
def bench_micropay1(ctx: click.Context, quick: bool, json_out: bool) -> None:
    """MICROPAY1-sub: Make/Check Ticket next to the raw signs/verifies of the same run, and the claim
    package's vbytes and fees per win (tx_1 + tx_2) against MICROPAY2's single claim."""
    from btcmicro.bench.micropay1 import format_report, run_micropay1_bench

    report = run_micropay1_bench(quick=quick, echo=None if json_out else lambda m: click.echo(m, err=True))
    emit(ctx, report, format_report(report))


@bench.command("microcash")
@click.option("--batch", type=click.IntRange(100, 100_000), default=500, show_default=True,
              help="Tickets per round (batch x rounds must be a multiple of 100).")
@click.option("--rounds", type=click.IntRange(1, 50), default=3, show_default=True)
@JSON_OPT
@click.pass_context
def bench_microcash(ctx: click.Context, batch: int, rounds: int, json_out: bool) -> None:
    """MicroCash: customer issue, merchant check (durable) and notary claim check per core, next to the raw
    BIP340 signs and verifies of the same run and the paper's Table 1."""
    from btcmicro.bench.microcash import format_report, run_microcash_bench

    if (batch * rounds) % 100:
        raise click.BadParameter("batch x rounds must be a multiple of 100", param_hint="--batch/--rounds")
    report = run_microcash_bench(batch=batch, rounds=rounds)
    emit(ctx, report, format_report(report))


@bench.command("dastripathi")
@click.option("--quick", is_flag=True, help="Fewer iterations and an 8-bit nonce-committed key (a smoke run).")
@JSON_OPT
@click.pass_context
def bench_dastripathi(ctx: click.Context, quick: bool, json_out: bool) -> None:
    """Das–Tripathi: voucher sign/check, both assertion schemes (Assert/Verify/Extract), AOS ring sign/verify
    at n = 2, 10, 50, microcoin issue/verify and key extraction, next to the raw libsecp256k1 operations of
    the same rounds; sizes in bytes."""
    from btcmicro.bench.dastripathi import format_report, run_dastripathi_bench

    report = run_dastripathi_bench(quick=quick, echo=None if json_out else lambda m: click.echo(m, err=True))
    emit(ctx, report, format_report(report))


@bench.command("metered")
@click.option("--megabytes", type=click.IntRange(1, 4096), default=64, show_default=True, help="Per download.")
@click.option("--rounds", type=click.IntRange(1, 50), default=5, show_default=True)
@JSON_OPT
@click.pass_context
def bench_metered(ctx: click.Context, megabytes: int, rounds: int, json_out: bool) -> None:
    """The metered router's proxy: throughput with and without metering (same proxy code, same run,
    loopback, interleaved rounds), next to a direct download; the ratio against the 0.8 target."""
    from btcmicro.bench.metered import format_report, run_metered_bench

    report = run_metered_bench(megabytes=megabytes, rounds=rounds,
                               echo=None if json_out else lambda m: click.echo(m, err=True))
    emit(ctx, report, format_report(report))


__all__ += ["bench_metered"]


@bench.command("scaling")
@click.option("--duration", type=click.FloatRange(0.5, 600), default=5.0, show_default=True, help="Seconds per run.")
@click.option("--concurrency", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--postgres", "postgres_url", metavar="URL",
              help="A PostgreSQL database to use (default: a throw-away server of Debian's binaries).")
@click.option("--quick", is_flag=True, help="Short runs (a smoke run).")
@JSON_OPT
@click.pass_context
def bench_scaling(ctx: click.Context, duration: float, concurrency: int, postgres_url: str | None, quick: bool,
                  json_out: bool) -> None:
    """MICROPAY2 merchant capacity and server CPU per /ask + /buy on 1 and 2 worker processes, on SQLite
    and PostgreSQL (the load generator's own CPU beside them), and VTS claims/s with 1 and 2 replicas."""
    from btcmicro.bench.scaling import format_report, run_scaling_bench

    report = run_scaling_bench(duration=duration, concurrency=concurrency, postgres_url=postgres_url, quick=quick,
                               echo=None if json_out else lambda m: click.echo(m, err=True))
    emit(ctx, report, format_report(report))
