"""What every command module shares: the context, output, progress, the shared options, the passphrase policy.

The command modules import this module, never the package's ``__init__`` (which imports them to register
their commands). Imports of the rest of btcmicro stay inside functions, so ``btcmicro --help`` starts fast.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar, overload

import click

from btcmicro.core.errors import ConfigError

__all__ = [
    "BITCOIND_OPT",
    "CHANNEL_OPT",
    "CHANNEL_PASSPHRASE_ENV",
    "DEFAULT_DATADIR",
    "ENGINE_OPT",
    "HOST_OPT",
    "JSON_OPT",
    "PASSPHRASE_ENV",
    "Context",
    "emit",
    "engine_option",
    "keystore_passphrase",
    "progress",
    "wants_json",
]

_F = TypeVar("_F", bound=Callable[..., Any])

DEFAULT_DATADIR = Path(os.environ.get("BTCMICRO_DATADIR", Path.home() / ".btcmicro"))

#: The passphrase of every keystore the CLI opens (the wallet's, MICROPAY2's, the channel stores').
PASSPHRASE_ENV = "BTCMICRO_PASSPHRASE"
#: Read before ``BTCMICRO_PASSPHRASE`` by the channel commands.
CHANNEL_PASSPHRASE_ENV = "BTCMICRO_CHANNEL_PASSPHRASE"

# -- the shared options, declared once ------------------------------------------------------------------

JSON_OPT = click.option("--json", "json_out", is_flag=True, help="Machine-readable output.")
CHANNEL_OPT = click.option("--channel", "deposit_txid", help="Deposit txid (default: the latest open channel).")


def engine_option(default: str = "auto") -> Callable[[_F], _F]:
    """``--engine auto|bitcoind|embedded``."""
    return click.option("--engine", type=click.Choice(["auto", "bitcoind", "embedded"]), default=default,
                        show_default=True, help="auto: bitcoind when one is found, else the embedded engine.")


ENGINE_OPT = engine_option()
BITCOIND_OPT = click.option("--bitcoind", "bitcoind_path", help="Path to bitcoind (else $BITCOIND, else PATH).")
HOST_OPT = click.option("--host", default="127.0.0.1", show_default=True, help="Listen address.")


# -- the passphrase policy ------------------------------------------------------------------------------


@overload
def keystore_passphrase(*, scope_env: str | None = None, prompt: str) -> str: ...


@overload
def keystore_passphrase(*, scope_env: str | None = None, prompt: None = None) -> str | None: ...


def keystore_passphrase(*, scope_env: str | None = None, prompt: str | None = None) -> str | None:
    """The passphrase for a keystore a command opens: the one policy of the CLI.

    ``scope_env`` (e.g. ``BTCMICRO_CHANNEL_PASSPHRASE``) is read first, then ``BTCMICRO_PASSPHRASE``.

    - With ``prompt`` (stores that always encrypt their keys: the channel stores), an empty variable
      counts as unset, and when neither is set the passphrase is asked for on the terminal (hidden).
    - Without ``prompt`` (the toolkit wallet, the MICROPAY2 keystore), ``BTCMICRO_PASSPHRASE`` is taken as
      set, and when it is unset the answer is None: the keystore keeps its keys unencrypted.
    """
    if scope_env and os.environ.get(scope_env):
        return os.environ[scope_env]
    if prompt is None:
        return os.environ.get(PASSPHRASE_ENV)
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    return str(click.prompt(prompt, hide_input=True))


# -- output ---------------------------------------------------------------------------------------------


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, (bytes, bytearray)):
        return obj.hex()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(type(obj).__name__)


def wants_json(ctx: click.Context) -> bool:
    """``--json`` was given on this command or on the root command."""
    return bool(ctx.params.get("json_out") or ctx.find_root().params.get("json_out"))


def emit(ctx: click.Context, data: Any, text: str | None = None) -> None:
    """Print ``data`` as JSON under ``--json``, else ``text`` (or a readable rendering)."""
    if wants_json(ctx):
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


# -- the context ----------------------------------------------------------------------------------------


class Context:
    """The root command's options: where the datadir is and how to reach the node."""

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

        return Wallet(rpc, directory=self.datadir / "wallet", passphrase=keystore_passphrase())
