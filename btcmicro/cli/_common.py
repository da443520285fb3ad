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
from typing import TYPE_CHECKING, Any, TypeVar, overload

import click

from btcmicro.core.errors import ConfigError

if TYPE_CHECKING:
    from btcmicro.wallet.keystore import Keystore

__all__ = [
    "BITCOIND_OPT",
    "CHANNEL_OPT",
    "CHANNEL_PASSPHRASE_ENV",
    "DEFAULT_DATADIR",
    "ENGINE_OPT",
    "HOST_OPT",
    "JSON_OPT",
    "STORE_OPT",
    "PASSPHRASE_ENV",
    "Context",
    "emit",
    "engine_option",
    "keystore_passphrase",
    "open_keystore",
    "close_with_command",
    "role_key",
    "role_settings",
    "progress",
    "progress_bar",
    "finish_steps",
    "Steps",
    "wants_json",
]

_F = TypeVar("_F", bound=Callable[..., Any])

DEFAULT_DATADIR = Path(os.environ.get("BTCMICRO_DATADIR", Path.home() / ".btcmicro"))

#: The passphrase of every keystore the CLI opens: the wallet's, MICROPAY2's, the channel stores'.
PASSPHRASE_ENV = "BTCMICRO_PASSPHRASE"
#: Deprecated alias of ``BTCMICRO_PASSPHRASE``, still read by the channel commands when that is unset.
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
STORE_OPT = click.option("--store", "store_url", metavar="URL",
                         help="Where the party's store lives: postgresql://user@host:port/db (several processes or "
                              "hosts share it) or a SQLite path [default: the SQLite file in the datadir]; "
                              "remembered in the role's settings for its other commands.")


# -- the passphrase policy ------------------------------------------------------------------------------


@overload
def keystore_passphrase(*, scope_env: str | None = None, prompt: str) -> str: ...


@overload
def keystore_passphrase(*, scope_env: str | None = None, prompt: None = None) -> str | None: ...


def keystore_passphrase(*, scope_env: str | None = None, prompt: str | None = None) -> str | None:
    """The passphrase for a keystore a command opens: the one policy of the CLI.

    ``BTCMICRO_PASSPHRASE`` serves every keystore; an empty value counts as unset. ``scope_env`` names
    a deprecated alias (the channel commands pass ``BTCMICRO_CHANNEL_PASSPHRASE``): read only when
    ``BTCMICRO_PASSPHRASE`` is unset, with a one-line notice; both set to different values is an error
    (which one encrypted the stores cannot be guessed).

    - With ``prompt`` (stores that always encrypt their keys: the channel stores), the passphrase is
      asked for on the terminal (hidden) when no variable gives one; with no terminal on stdin the error
      says which variable to set.
    - Without ``prompt`` (the toolkit wallet, the MICROPAY2 keystore) the answer is then None; see
      :func:`open_keystore` for what happens to a keystore opened with or without one.
    """
    general = os.environ.get(PASSPHRASE_ENV) or None
    alias = (os.environ.get(scope_env) or None) if scope_env else None
    if alias is not None:
        if general is not None and general != alias:
            raise ConfigError(f"{PASSPHRASE_ENV} and the deprecated {scope_env} are both set and differ: "
                              f"unset {scope_env} (or set {PASSPHRASE_ENV} to its value)")
        if general is None:
            _notice(f"{scope_env} is deprecated: set {PASSPHRASE_ENV} instead (one passphrase for every keystore)")
            return alias
    if general is not None or prompt is None:
        return general
    if not sys.stdin.isatty():  # nobody to ask (a script, a pipe, a service): say which variable to set
        raise ConfigError(f"these keys are kept encrypted: set {PASSPHRASE_ENV} (no terminal to ask for the "
                          "passphrase on)")
    return str(click.prompt(prompt, hide_input=True))


_noticed: set[str] = set()


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def _notice(text: str) -> None:
    """A one-line note for a person: on stderr when it is a terminal (so programs that read a command's
    output, also CliRunner's mixed one, never see it), once per process."""
    if text not in _noticed and _stderr_is_terminal():
        _noticed.add(text)
        click.echo(f"note: {text}", err=True)


def open_keystore(directory: Path) -> Keystore:
    """The :class:`~btcmicro.wallet.Keystore` in ``directory``, opened by the passphrase policy.

    - absent: created, encrypted under ``BTCMICRO_PASSPHRASE`` when it is set, else in clear (said once);
    - clear, with ``BTCMICRO_PASSPHRASE`` set: opened as it is, with a note that ``btcmicro wallet encrypt``
      encrypts it (setting the variable after the first command is the README's own order);
    - encrypted: opened with ``BTCMICRO_PASSPHRASE``; unset, the passphrase is asked for on a terminal,
      else the error says which variable to set.
    """
    from btcmicro.wallet.keystore import KEYSTORE_FILE, Keystore, keystore_state

    passphrase = keystore_passphrase()
    state = keystore_state(directory)
    path = directory / KEYSTORE_FILE
    if state == "clear" and passphrase is not None:
        _notice(f"the keys in {path} are not encrypted: `btcmicro wallet encrypt` encrypts them "
                f"with {PASSPHRASE_ENV}")
        passphrase = None
    elif state == "encrypted" and passphrase is None:
        if not sys.stdin.isatty():
            raise ConfigError(f"the keys in {path} are encrypted: set {PASSPHRASE_ENV}")
        passphrase = str(click.prompt(f"passphrase for {path}", hide_input=True))
    elif state == "absent" and passphrase is None:
        _notice(f"keeping new keys in {path} unencrypted: set {PASSPHRASE_ENV} to encrypt them "
                "(`btcmicro wallet encrypt` does it later)")
    return Keystore(directory, passphrase)


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


class Steps:
    """What a long command has done so far: ``done`` of ``total``; :meth:`advance` moves its bar."""

    def __init__(self, total: int, bar: Any = None) -> None:
        self.total = total
        self.done = 0
        self._bar = bar

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Steps]:
    """A progress bar on stderr, on a terminal only (click's own), for ``total`` steps. The command prints
    its summary itself, from :attr:`Steps.done`, whether it finished, failed or was interrupted."""
    if not sys.stderr.isatty():
        yield Steps(total)
        return
    with click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True, show_eta=True) as bar:
        yield Steps(total, bar)


def finish_steps(ctx: click.Context, steps: Steps, stopped: BaseException | None, data: dict[str, Any],
                 text: str, what: str, next_step: str) -> None:
    """End a long command: its summary (``data`` under ``--json``, else ``text``), and when it ``stopped``
    early (an error, or Ctrl-C) one more line on stderr saying how far it got, why it stopped and
    ``next_step``, exiting 1 (130 on Ctrl-C)."""
    if stopped is None:
        emit(ctx, data, text)
        return
    interrupted = isinstance(stopped, KeyboardInterrupt)
    data["stopped"] = "interrupted" if interrupted else str(stopped)
    data["next"] = next_step
    emit(ctx, data, text)
    click.echo(f"error: stopped after {steps.done:,} of {steps.total:,} {what} ({data['stopped']}): {next_step}",
               err=True)
    ctx.exit(130 if interrupted else 1)


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


def role_key(directory: Path, label: str) -> Any:
    """The :class:`~btcmicro.core.keys.PrivateKey` labelled ``label`` in the keystore at ``directory`` (opened by
    the passphrase policy), created on first use: a scheme's CLI keeps one key per role there."""
    with _role_lock(directory):  # two processes starting at once (replicas of a server) get one key
        keystore = open_keystore(directory)
        for key in keystore:
            if keystore.label(key.pubkey) == label:
                return key
        return keystore.new_key(label)


@contextmanager
def _role_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock (``flock``) on ``directory``'s lock file, held while a role's key is looked up or
    created: the keystore is read after the lock is taken, so a key another process just created is found."""
    import fcntl

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(directory / ".role.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def role_settings(path: Path, update: dict[str, Any] | None = None) -> dict[str, Any]:
    """A role's saved settings (a JSON object at ``path``, ``{}`` when absent); ``update`` is merged in and
    written back atomically and privately first."""
    from btcmicro.core.files import atomic_write_json

    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if update:
        data.update(update)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, data)
    return data


def close_with_command(resource: Any) -> Any:
    """Close ``resource`` (anything with ``close()``) when the running command ends, however it ends.

    A command run in-process (click's test runner, a script calling :func:`btcmicro.cli.main`) then leaves no
    socket or database handle behind for the garbage collector. Outside a command it does nothing.
    """
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(resource.close)
    return resource


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
        """A client of the node; closed with the command (a command run in-process leaves no socket open)."""
        from btcmicro.node.launcher import attach, read_node_record

        if self.url:
            client = attach(self.url, user=self.user, password=self.password, cookie_file=self.cookie)
        else:
            record = read_node_record(self.nodedir)
            if record is None:
                raise ConfigError(
                    f"no running node recorded in {self.datadir}: start one with "
                    "`btcmicro regtest start --detach`, or pass --url and --cookie"
                )
            client = attach(record["url"], cookie_file=record["cookie_file"])
        close_with_command(client)
        return client

    def wallet(self, rpc: Any) -> Any:
        from btcmicro.wallet import Wallet

        directory = self.datadir / "wallet"
        return Wallet(rpc, open_keystore(directory), directory=directory)
