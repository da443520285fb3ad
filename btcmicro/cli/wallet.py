"""``btcmicro wallet balance|address|coins|send|encrypt``: the toolkit's own coins, without a node wallet.

The wallet is the one ``mine`` pays and ``fund`` spends from: its keys are in ``<datadir>/wallet/``,
its coins are found on the chain with ``scantxoutset`` plus its own unconfirmed change. ``encrypt``
encrypts every clear keystore of the datadir (the wallet's and MICROPAY2's) under ``BTCMICRO_PASSPHRASE``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from btcmicro.cli._common import JSON_OPT, PASSPHRASE_ENV, Context, emit, keystore_passphrase, open_keystore, progress
from btcmicro.core.errors import ConfigError

__all__ = ["KEYSTORE_DIRS", "keystore_dirs", "wallet_group"]

#: Where the keystores of a datadir usually are, relative to it (the wallet's first); ``wallet encrypt``
#: also finds any other ``keystore.json`` outside the node's chain directory.
KEYSTORE_DIRS = ("wallet", "micropay2/keys")


def keystore_dirs(datadir: Path) -> list[Path]:
    """Every directory of ``datadir`` holding a ``keystore.json``: the known ones first, then any other a
    scheme's commands made, never looking into the node's chain (``node/``)."""
    from btcmicro.wallet.keystore import KEYSTORE_FILE

    found = [datadir / rel for rel in KEYSTORE_DIRS if (datadir / rel / KEYSTORE_FILE).exists()]
    for top, dirs, files in os.walk(datadir):
        if Path(top) == datadir:
            dirs[:] = [d for d in dirs if d != "node"]
        if KEYSTORE_FILE in files and Path(top) not in found:
            found.append(Path(top))
    return found


@click.group("wallet")
def wallet_group() -> None:
    """The toolkit's wallet: what `mine` and `fund` did, and sending from it."""


def format_sats(sats: int) -> str:
    """``1,234 sats (0.00001234 BTC)``, zero included."""
    return f"{sats:,} sats ({sats // 100_000_000}.{sats % 100_000_000:08d} BTC)"


def _coin_json(coin: Any, tip: int) -> dict[str, Any]:
    from btcmicro.wallet import COINBASE_MATURITY

    confirmations = tip - coin.height + 1 if coin.height else 0
    return {"txid": coin.txid, "vout": coin.vout, "sats": coin.amount, "address": coin.address,
            "kind": coin.kind, "height": coin.height, "confirmations": confirmations, "coinbase": coin.coinbase,
            "mature": not coin.coinbase or confirmations >= COINBASE_MATURITY}


def _scan(ctx: click.Context) -> tuple[Any, list[dict[str, Any]], int]:
    obj: Context = ctx.obj
    rpc = obj.rpc()
    wallet = obj.wallet(rpc)
    with progress("scanning the chain for the wallet's coins"):
        coins = wallet.coins(include_immature=True)
    tip = int(rpc.getblockcount())
    return wallet, [_coin_json(c, tip) for c in coins], tip


@wallet_group.command("balance")
@JSON_OPT
@click.pass_context
def balance(ctx: click.Context, json_out: bool) -> None:
    """Spendable, immature (coinbase younger than 100 blocks) and unconfirmed sats.

    Coins are found on the chain, so a payment from elsewhere counts once it confirms; the wallet's own
    unconfirmed change counts at once.
    """
    _wallet, coins, tip = _scan(ctx)
    spendable = sum(c["sats"] for c in coins if c["mature"])
    immature = sum(c["sats"] for c in coins if not c["mature"])
    unconfirmed = sum(c["sats"] for c in coins if c["height"] == 0)
    data = {"spendable": spendable, "immature": immature, "unconfirmed": unconfirmed, "coins": len(coins),
            "height": tip}
    text = (f"spendable   {format_sats(spendable)}\n"
            f"immature    {format_sats(immature)}  (coinbase: spendable after 100 confirmations)\n"
            f"unconfirmed {format_sats(unconfirmed)}  (own change, spendable now; `btcmicro mine 1` confirms)\n"
            f"{len(coins)} coins at height {tip}")
    if not coins:
        text += "; `btcmicro mine 101` gives the wallet its first spendable coins"
    emit(ctx, data, text)


@wallet_group.command("address")
@click.option("--kind", type=click.Choice(["p2wpkh", "p2pkh"]), default="p2wpkh", show_default=True)
@click.option("--new", "new", is_flag=True, help="A fresh key's address (stored before it is shown).")
@JSON_OPT
@click.pass_context
def address(ctx: click.Context, kind: str, new: bool, json_out: bool) -> None:
    """An address of the wallet (the one `mine` pays unless --new). Needs no node."""
    from btcmicro.script.standard import p2pkh, p2wpkh, script_to_address

    keystore = open_keystore(ctx.obj.datadir / "wallet")
    if new:
        key = keystore.new_key("address")
    else:
        keys = keystore.keys()
        key = keys[0] if keys else keystore.new_key("default")  # the wallet's default key, as it makes it
    spk = bytes(p2wpkh(key.pubkey) if kind == "p2wpkh" else p2pkh(key.pubkey))
    addr = script_to_address(spk)
    emit(ctx, {"address": addr, "kind": kind, "pubkey": key.pubkey.hex(), "script": spk.hex()}, addr)


@wallet_group.command("coins")
@click.option("--spendable", "only_spendable", is_flag=True, help="Leave out immature coinbases.")
@JSON_OPT
@click.pass_context
def coins_cmd(ctx: click.Context, only_spendable: bool, json_out: bool) -> None:
    """Every coin of the wallet, largest first: outpoint, sats, confirmations, maturity."""
    _wallet, coins, tip = _scan(ctx)
    if only_spendable:
        coins = [c for c in coins if c["mature"]]
    lines = [f"{c['txid']}:{c['vout']}  {c['sats']:>14,} sats  {c['confirmations']:>4} conf  "
             f"{'coinbase' if c['coinbase'] else c['kind']}{'' if c['mature'] else ' (immature)'}" for c in coins]
    emit(ctx, coins, "\n".join(lines) if lines else f"no coins at height {tip}: `btcmicro mine 101` makes some")


@wallet_group.command("send")
@click.argument("address")
@click.argument("sats", type=click.IntRange(1))
@click.option("--feerate", type=click.IntRange(1000), default=None, help="sat/kvB (default 2000).")
@JSON_OPT
@click.pass_context
def send(ctx: click.Context, address: str, sats: int, feerate: int | None, json_out: bool) -> None:
    """Send SATS satoshis to ADDRESS from the wallet's spendable coins (no mining: see `fund`)."""
    from btcmicro.script.standard import address_to_script

    spk = bytes(address_to_script(address))  # a bad address fails here, before any coin is reserved
    obj: Context = ctx.obj
    wallet = obj.wallet(obj.rpc())
    prepared = wallet.prepare([(spk, sats)], feerate=feerate)
    txid = wallet.broadcast_prepared(prepared)
    vout = prepared.vout_of(spk)
    emit(ctx, {"txid": txid, "vout": vout, "sats": sats, "fee": prepared.fee, "address": address},
         f"sent {format_sats(sats)} to {address} (fee {prepared.fee:,} sats)\n"
         f"  outpoint {txid}:{vout} (unconfirmed; `btcmicro mine 1`)")


@wallet_group.command("encrypt")
@JSON_OPT
@click.pass_context
def encrypt(ctx: click.Context, json_out: bool) -> None:
    """Encrypt every clear keystore of the datadir under BTCMICRO_PASSPHRASE (asked for on a terminal).

    The wallet's, MICROPAY2's and any other scheme's keys kept under the datadir.

    Already encrypted ones are checked to open with it. Each file is rewritten atomically.
    """
    from btcmicro.wallet.keystore import KEYSTORE_FILE, Keystore, keystore_state

    passphrase = keystore_passphrase()
    if passphrase is None:
        if not sys.stdin.isatty():
            raise ConfigError(f"set {PASSPHRASE_ENV} to the passphrase to encrypt with")
        passphrase = str(click.prompt("new keystore passphrase", hide_input=True, confirmation_prompt=True))
    datadir: Path = ctx.obj.datadir
    done: list[dict[str, Any]] = []
    for directory in keystore_dirs(datadir):
        state = keystore_state(directory)
        if state == "clear":
            Keystore(directory).encrypt(passphrase)
            done.append({"path": str(directory / KEYSTORE_FILE), "was": "clear", "now": "encrypted"})
        else:
            Keystore(directory, passphrase)  # raises ConfigError on a wrong passphrase, changing nothing
            done.append({"path": str(directory / KEYSTORE_FILE), "was": "encrypted", "now": "encrypted"})
    lines = [f"{d['path']}: " + ("encrypted" if d["was"] == "clear" else "already encrypted (passphrase checked)")
             for d in done]
    emit(ctx, done, "\n".join(lines) if lines else f"no keystore in {datadir} yet: new ones are encrypted "
                                                   f"while {PASSPHRASE_ENV} is set")
