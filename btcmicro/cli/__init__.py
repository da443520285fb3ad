"""The ``btcmicro`` command line: a thin layer over the library.

Readable output for people, ``--json`` for programs. Commands that talk to a node
find it through the record a detached ``btcmicro regtest start`` leaves in the
datadir, or through ``--url`` with ``--cookie``/``--rpcuser``/``--rpcpassword``.

Layout: :mod:`btcmicro.cli._common` holds what the commands share (the context, ``emit``,
``progress``, the shared options, the passphrase policy); each other module defines one
group's commands and imports only ``_common``; this module registers them, in the explicit
list below, on the root group ``main``.
"""
from __future__ import annotations

import errno
import os
import signal
import sys
from pathlib import Path

import click

from btcmicro.cli import (
    analyze,
    bench,
    channel,
    dastripathi,
    demo,
    describe,
    metered,
    microcash,
    micropay1,
    micropay2,
    micropay3,
    node,
    vuf,
    wallet,
)
from btcmicro.cli._common import DEFAULT_DATADIR, JSON_OPT, Context, emit, progress
from btcmicro.core.errors import BtcmicroError

__all__ = ["DEFAULT_DATADIR", "Context", "emit", "main", "progress", "run"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--datadir", type=click.Path(path_type=Path), default=DEFAULT_DATADIR, show_default=True,
              help="Where the toolkit keeps the chain, keys and coins (env BTCMICRO_DATADIR).")
@click.option("--url", help="RPC URL of a running node (instead of the recorded one).")
@click.option("--cookie", type=click.Path(path_type=Path), help="Cookie file for --url.")
@click.option("--rpcuser", help="RPC user for --url.")
@click.option("--rpcpassword", help="RPC password for --url.")
@JSON_OPT
@click.version_option(package_name="btcmicro")
@click.pass_context
def main(ctx: click.Context, datadir: Path, url: str | None, cookie: Path | None, rpcuser: str | None,
         rpcpassword: str | None, json_out: bool) -> None:
    """btcmicro: Bitcoin micropayment schemes as real transactions on regtest."""
    ctx.obj = Context(datadir, url, cookie, rpcuser, rpcpassword)


# Every command and group of the root, explicitly (``--help`` lists them sorted by name).
COMMANDS: tuple[click.Command, ...] = (
    node.regtest,
    node.mine,
    node.fund,
    node.rpc,
    wallet.wallet_group,
    demo.demo,
    bench.bench,
    describe.script_group,
    describe.tx_group,
    analyze.analyze_group,
    channel.channel_group,
    micropay2.micropay2_group,
    micropay2.vts_group,
    micropay2.merchant_group,
    micropay3.micropay3_group,
    micropay1.micropay1_group,
    dastripathi.dastripathi_group,
    vuf.vuf_group,
    microcash.microcash_group,
    metered.router_group,
    metered.keyserver_group,
    metered.meter_group,
)
for _command in COMMANDS:
    main.add_command(_command)


def run() -> None:
    """The console entry point: errors become one line on stderr and an exit status, never a traceback."""
    # SIGTERM exits like Ctrl-C does, so finalizers stop any node this process started.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
    try:
        code = main(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # click's own shows three lines: usage, a hint, the error
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"error: {_one_line(exc.format_message()).rstrip('.')}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {_one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except BtcmicroError as exc:
        click.echo(f"error: {_one_line(exc)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("aborted", err=True)
        sys.exit(130)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            _unexpected(exc)
        click.echo(f"error: that address is in use ({exc.strerror}): pick another with --port "
                   "(--port 0 takes any free one)", err=True)
        sys.exit(1)
    except Exception as exc:
        _unexpected(exc)


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _unexpected(exc: Exception) -> None:
    """A bug of ours or an input no check caught: one line saying so, the traceback only on request."""
    if os.environ.get("BTCMICRO_DEBUG"):
        raise exc
    click.echo(f"error: unexpected {type(exc).__name__}: {_one_line(exc)} (this is a bug in btcmicro: please "
               "report it; BTCMICRO_DEBUG=1 shows the traceback)", err=True)
    sys.exit(1)
