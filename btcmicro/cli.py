"""The ``btcmicro`` command line: a thin layer over the library.

Readable output for people, ``--json`` for programs. Commands that talk to a node
find it through the record a detached ``btcmicro regtest start`` leaves in the
datadir, or through ``--url`` with ``--cookie``/``--rpcuser``/``--rpcpassword``.
"""
from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import click

from btcmicro.core.amounts import format_sats
from btcmicro.core.errors import BtcmicroError, ConfigError

DEFAULT_DATADIR = Path(os.environ.get("BTCMICRO_DATADIR", Path.home() / ".btcmicro"))


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, (bytes, bytearray)):
        return obj.hex()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(type(obj).__name__)


def emit(ctx: click.Context, data: Any, text: str | None = None) -> None:
    """Print ``data`` as JSON under ``--json``, else ``text`` (or a readable rendering)."""
    if ctx.find_root().params.get("json_out") or ctx.params.get("json_out"):
        click.echo(json.dumps(data, default=_default, indent=2))
    elif text is not None:
        click.echo(text)
    elif isinstance(data, (dict, list)):
        click.echo(json.dumps(data, default=_default, indent=2))
    else:
        click.echo(data)


@contextmanager
def progress(message: str) -> Iterator[None]:
    """A status line on stderr for anything that may take more than a second."""
    start = time.monotonic()
    if sys.stderr.isatty():
        click.echo(f"{message}…", err=True, nl=False)
    try:
        yield
    finally:
        if sys.stderr.isatty():
            click.echo(f" done ({time.monotonic() - start:.1f}s)", err=True)


class Context:
    def __init__(self, datadir: Path, url: str | None, cookie: Path | None, user: str | None,
                 password: str | None) -> None:
        self.datadir = datadir
        self.url = url
        self.cookie = cookie
        self.user = user
        self.password = password

    @property
    def nodedir(self) -> Path:
        """Where the node keeps its chain and its record (``btcmicro-node.json``)."""
        return self.datadir / "node"

    def rpc(self) -> Any:
        from btcmicro.node.launcher import attach, read_node_record

        if self.url:
            return attach(self.url, user=self.user, password=self.password, cookie_file=self.cookie)
        record = read_node_record(self.nodedir)
        if record is None:
            raise ConfigError(
                f"no running node recorded in {self.datadir}: start one with "
                "`btcmicro regtest start --detach`, or pass --url and --cookie"
            )
        return attach(record["url"], cookie_file=record["cookie_file"])

    def wallet(self, rpc: Any) -> Any:
        from btcmicro.wallet import Wallet

        return Wallet(rpc, directory=self.datadir / "wallet", passphrase=os.environ.get("BTCMICRO_PASSPHRASE"))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--datadir", type=click.Path(path_type=Path), default=DEFAULT_DATADIR, show_default=True,
              help="Where the toolkit keeps the chain, keys and coins (env BTCMICRO_DATADIR).")
@click.option("--url", help="RPC URL of a running node (instead of the recorded one).")
@click.option("--cookie", type=click.Path(path_type=Path), help="Cookie file for --url.")
@click.option("--rpcuser", help="RPC user for --url.")
@click.option("--rpcpassword", help="RPC password for --url.")
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.version_option(package_name="btcmicro")
@click.pass_context
def main(ctx: click.Context, datadir: Path, url: str | None, cookie: Path | None, rpcuser: str | None,
         rpcpassword: str | None, json_out: bool) -> None:
    """btcmicro: Bitcoin micropayment schemes as real transactions on regtest."""
    ctx.obj = Context(datadir, url, cookie, rpcuser, rpcpassword)


# -- regtest ------------------------------------------------------------------------


@main.group()
def regtest() -> None:
    """Start, stop and inspect a regtest node (bitcoind or the embedded engine)."""


ENGINE = click.option("--engine", type=click.Choice(["auto", "bitcoind", "embedded"]), default="auto",
                      show_default=True, help="auto: bitcoind when one is found, else the embedded engine.")
BITCOIND = click.option("--bitcoind", "bitcoind_path", help="Path to bitcoind (else $BITCOIND, else PATH).")


@regtest.command("start")
@ENGINE
@BITCOIND
@click.option("--detach", is_flag=True, help="Run in the background; later commands find it via the datadir.")
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def regtest_start(ctx: click.Context, engine: str, bitcoind_path: str | None, detach: bool, json_out: bool) -> None:
    """Start a regtest node on the datadir."""
    from btcmicro.node.launcher import read_node_record, start_node, start_detached

    obj: Context = ctx.obj
    existing = read_node_record(obj.nodedir)
    if existing is not None:
        raise ConfigError(f"a node is already running for {obj.datadir} at {existing['url']} "
                          f"(pid {existing['pid']}): `btcmicro regtest stop` first")
    chaindir = obj.nodedir
    if detach:
        with progress("starting regtest node"):
            info = start_detached(engine=engine, datadir=chaindir, bitcoind=bitcoind_path)
        emit(ctx, info, f"{info['engine']} regtest node running (pid {info['pid']})\n"
                        f"  rpc url:     {info['url']}\n  cookie file: {info['cookie_file']}\n"
                        f"  stop with:   btcmicro regtest stop")
        return
    with start_node(engine=engine, datadir=chaindir, bitcoind=bitcoind_path) as node:
        emit(ctx, {"engine": node.engine, "url": node.url, "cookie_file": str(node.cookie_path)},
             f"{node.engine} regtest node at {node.url} (cookie {node.cookie_path}); Ctrl-C to stop")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("stopping", err=True)


@regtest.command("stop")
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def regtest_stop(ctx: click.Context, json_out: bool) -> None:
    """Stop the node recorded in the datadir."""
    from btcmicro.node.launcher import stop_detached

    with progress("stopping regtest node"):
        stopped = stop_detached(ctx.obj.nodedir)
    emit(ctx, {"stopped": stopped}, "stopped" if stopped else "no node was running")


@regtest.command("status")
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def regtest_status(ctx: click.Context, json_out: bool) -> None:
    """Where the recorded node listens, its credentials, and its chain."""
    from btcmicro.node.launcher import read_node_record

    record = read_node_record(ctx.obj.nodedir)
    if record is None:
        emit(ctx, {"running": False}, "no node running")
        ctx.exit(1)
    rpc = ctx.obj.rpc()
    info = rpc.getblockchaininfo()
    data = {"running": True, **record, "blocks": info["blocks"], "bestblockhash": info["bestblockhash"],
            "mempool": len(rpc.getrawmempool())}
    emit(ctx, data, f"{record['engine']} node (pid {record['pid']}) at {record['url']}\n"
                    f"  cookie file: {record['cookie_file']}\n  height {info['blocks']}, "
                    f"tip {info['bestblockhash']}, {data['mempool']} in mempool")


# -- chain and coins ----------------------------------------------------------------------


@main.command()
@click.argument("n", type=click.IntRange(1, 10_000))
@click.option("--address", help="Pay the coinbases here (default: a key of the toolkit's wallet).")
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def mine(ctx: click.Context, n: int, address: str | None, json_out: bool) -> None:
    """Mine N blocks."""
    rpc = ctx.obj.rpc()
    if address is None:
        address = ctx.obj.wallet(rpc).address()
    with progress(f"mining {n} blocks"):
        hashes = rpc.generatetoaddress(n, address)
    emit(ctx, {"blocks": hashes, "height": rpc.getblockcount(), "address": address},
         f"mined {n} blocks to {address}; height {rpc.getblockcount()}")


@main.command()
@click.argument("address")
@click.argument("sats", type=click.IntRange(1))
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def fund(ctx: click.Context, address: str, sats: int, json_out: bool) -> None:
    """Send SATS satoshis to ADDRESS from the toolkit's own coins (mining them if needed)."""
    rpc = ctx.obj.rpc()
    wallet = ctx.obj.wallet(rpc)
    with progress("funding"):
        txid, vout = wallet.fund(address, sats)
    emit(ctx, {"txid": txid, "vout": vout, "sats": sats, "address": address},
         f"sent {format_sats(sats)} to {address}\n  outpoint {txid}:{vout} (unconfirmed; `btcmicro mine 1`)")


def encode_json(obj: Any) -> str:
    from btcmicro.node.rpc import encode_json as _encode

    return _encode(obj)


def _parse_cli_arg(text: str) -> Any:
    """bitcoin-cli style: JSON where it parses (numbers, true, arrays, objects), else a string."""
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError:
        return text


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("method")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def rpc(ctx: click.Context, method: str, args: tuple[str, ...]) -> None:
    """Call any RPC METHOD with ARGS on the node (a bitcoin-cli stand-in for either engine).

    Arguments are JSON where they parse, strings otherwise; NAME=VALUE passes a named argument.
    """
    client = ctx.obj.rpc()
    positional: list[Any] = []
    named: dict[str, Any] = {}
    for arg in args:
        name, eq, value = arg.partition("=")
        if eq and name.isidentifier():
            named[name] = _parse_cli_arg(value)
        else:
            positional.append(_parse_cli_arg(arg))
    result = client.call(method, *positional, **named)
    if isinstance(result, str):
        click.echo(result)
    elif result is not None:
        click.echo(encode_json(result))  # amounts printed exactly, as bitcoin-cli does


# -- demo and bench -----------------------------------------------------------------


@main.command()
@ENGINE
@BITCOIND
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def demo(ctx: click.Context, engine: str, bitcoind_path: str | None, json_out: bool) -> None:
    """A tour: start a fresh regtest chain, fund a key, lock coins in a 2-of-2 escrow and spend it."""
    from btcmicro.demo import run_demo

    quiet = bool(json_out or ctx.find_root().params.get("json_out"))
    report = run_demo(engine=engine, bitcoind=bitcoind_path, echo=None if quiet else click.echo)
    if quiet:
        emit(ctx, report)


@main.group()
def bench() -> None:
    """Benchmarks (figures go to docs/benchmarks.md)."""


@bench.command("engine")
@click.option("--txs", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--engines", default="auto", show_default=True,
              help="Comma list of engines to run (auto = every available one).")
@BITCOIND
@click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
@click.pass_context
def bench_engine(ctx: click.Context, txs: int, engines: str, bitcoind_path: str | None, json_out: bool) -> None:
    """Start + 101 blocks, and TXS transactions through sendrawtransaction and into blocks, per engine."""
    from btcmicro.bench.engine import format_report, run_engine_bench

    report = run_engine_bench(txs=txs, engines=engines, bitcoind=bitcoind_path,
                              echo=None if json_out else lambda m: click.echo(m, err=True))
    emit(ctx, report, format_report(report))


from btcmicro.cli_describe import script_group, tx_group  # noqa: E402  (the describe views)
from btcmicro.cli_analyze import analyze_group  # noqa: E402
from btcmicro.cli_channel import channel_group  # noqa: E402
from btcmicro.cli_micropay2 import merchant_group, micropay2_group, vts_group  # noqa: E402

for _group in (script_group, tx_group, analyze_group, channel_group, micropay2_group, vts_group, merchant_group):
    main.add_command(_group)


def run() -> None:
    import signal

    # SIGTERM exits like Ctrl-C does, so finalizers stop any node this process started.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    try:
        code = main(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BtcmicroError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    # Run as a script this file is "__main__", and the command modules registered their commands on
    # the importable btcmicro.cli: run that one.
    from btcmicro.cli import run as _run

    _run()
