"""``btcmicro router|keyserver|meter ...``: the metered service (Bloomer & Nishimura's "metercoin").

- ``router serve``: the channel server with the metering HTTP proxy, the operator page and a loop
  that closes channels out of funds and settles each one before its refund's lock time. Its store is
  ``<datadir>/router/server.db``; the operator token is written 0600 to ``<datadir>/router/server.token``.
- ``keyserver serve``: accounts (``<datadir>/keyserver/accounts.json``) holding each client's key
  sealed under a password-derived key the server never sees; ``keyserver add-user NAME``: enrol
  an account through a running key server (the password stays here), optionally funding its key.
- ``meter serve``: the client app: a local web page to log in, watch the channel and log off.

The router's channel keys are encrypted at rest with ``BTCMICRO_PASSPHRASE`` (else a prompt).
"""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import click

from btcmicro.cli._common import CHANNEL_PASSPHRASE_ENV, HOST_OPT, JSON_OPT, emit, keystore_passphrase

__all__ = ["router_group", "keyserver_group", "meter_group", "METER_PASSWORD_ENV"]

#: Where ``keyserver add-user`` reads the account's password from (else a prompt).
METER_PASSWORD_ENV = "BTCMICRO_METER_PASSWORD"


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _s, _f: stop.set())
    stop.wait()


@click.group("router")
def router_group() -> None:
    """The metered router: payment channels that buy bytes through an HTTP proxy."""


@router_group.command("serve")
@HOST_OPT
@click.option("--port", type=click.IntRange(0, 65535), default=8340, show_default=True, help="Channel service.")
@click.option("--proxy-port", type=click.IntRange(0, 65535), default=8341, show_default=True, help="Metering proxy.")
@click.option("--store", "store_path", type=click.Path(path_type=Path),
              help="Router database (default <datadir>/router/server.db).")
@click.option("--price", type=click.IntRange(1), default=10_000, show_default=True, help="Sats per megabyte.")
@click.option("--increment", "increment_bytes", type=click.IntRange(1), default=1_000_000, show_default=True,
              help="Bytes sold per payment (the client prepays one increment).")
@click.option("--min-channel-size", type=click.IntRange(1), default=50_000, show_default=True)
@click.option("--min-window", type=click.IntRange(1), default=4 * 3600, show_default=True,
              help="Shortest refund time window accepted (s; counted in 10-minute blocks).")
@click.option("--close-margin-blocks", type=click.IntRange(0), default=12, show_default=True,
              help="Settle this many blocks before the refund's lock time.")
@click.option("--payout", help="Address the settlements pay the router (default: the toolkit wallet).")
@JSON_OPT
@click.pass_context
def router_serve(ctx: click.Context, host: str, port: int, proxy_port: int, store_path: Path | None, price: int,
                 increment_bytes: int, min_channel_size: int, min_window: int, close_margin_blocks: int,
                 payout: str | None, json_out: bool) -> None:
    """Serve the router until SIGTERM or SIGINT."""
    from btcmicro.channels.bitcoinj import PaymentChannelServer, ServerConfig, SQLiteServerStore
    from btcmicro.channels.bitcoinj.metered import MeteredRouter, Tariff
    from btcmicro.node.chain import RPCChain
    from btcmicro.script.standard import address_to_script
    from btcmicro.service.app import write_operator_token
    from btcmicro.service.router import RouterService
    from btcmicro.service.runner import exposure_warning

    tariff = Tariff(price, increment_bytes)
    rpc = ctx.obj.rpc()
    if store_path is None:
        store_path = Path(ctx.obj.datadir) / "router" / "server.db"
    store_path.parent.mkdir(parents=True, exist_ok=True)
    payout_spk = bytes(address_to_script(payout or ctx.obj.wallet(rpc).address()))
    config = ServerConfig(expiry_by_height=True, min_time_window_secs=min_window, min_payment=tariff.increment_sats,
                          min_channel_size=max(min_channel_size, tariff.increment_sats),
                          close_margin_blocks=close_margin_blocks)
    store = SQLiteServerStore(store_path, passphrase=keystore_passphrase(scope_env=CHANNEL_PASSPHRASE_ENV,
                                                                         prompt="router key passphrase"))
    router = MeteredRouter(PaymentChannelServer(RPCChain(rpc), store, config=config, payout_spk=payout_spk), tariff)
    token = write_operator_token(store_path.parent / "server.token")
    warning = exposure_warning(host, token=True)
    if warning:
        click.echo(warning, err=True)
    service = RouterService(router, host=host, port=port, proxy_port=proxy_port, operator_token=token,
                            on_event=lambda line: click.echo(line, err=True))
    try:
        service.start()
        emit(ctx, {"url": service.url, "proxy_url": service.proxy_url, "operator_page": f"{service.url}/operator",
                   "store": str(store_path), "pid": os.getpid(), **tariff.terms()},
             f"router at {service.url} (proxy {service.proxy_url}), {price:,} sats / MB in increments of "
             f"{increment_bytes:,} bytes\noperator page: {service.url}/operator#token=<the token in "
             f"{store_path.parent / 'server.token'}>\nSIGTERM or Ctrl-C to stop")
        _wait_for_signal()
    finally:
        service.stop()
        store.close()
    click.echo("router stopped", err=True)


@click.group("keyserver")
def keyserver_group() -> None:
    """The key server: each client's key, sealed under its password, which the server never sees."""


@keyserver_group.command("serve")
@HOST_OPT
@click.option("--port", type=click.IntRange(0, 65535), default=8342, show_default=True)
@click.option("--accounts", "accounts_path", type=click.Path(path_type=Path),
              help="Accounts file (default <datadir>/keyserver/accounts.json).")
@click.option("--max-failures", type=click.IntRange(1), default=5, show_default=True,
              help="Failed logins per username per window before logins are refused (429).")
@click.option("--window", type=click.FloatRange(1), default=60.0, show_default=True, help="Seconds.")
@JSON_OPT
@click.pass_context
def keyserver_serve(ctx: click.Context, host: str, port: int, accounts_path: Path | None, max_failures: int,
                    window: float, json_out: bool) -> None:
    """Serve the key server until SIGTERM or SIGINT."""
    from btcmicro.channels.bitcoinj.metered import JSONAccountStore, KeyServer
    from btcmicro.service.keyserver import create_keyserver_app
    from btcmicro.service.runner import ServiceThread, exposure_warning

    if accounts_path is None:
        accounts_path = Path(ctx.obj.datadir) / "keyserver" / "accounts.json"
    accounts_path.parent.mkdir(parents=True, exist_ok=True)
    store = JSONAccountStore(accounts_path)
    warning = exposure_warning(host)
    if warning:
        click.echo(warning, err=True)
    service = ServiceThread(create_keyserver_app(KeyServer(store, max_failures=max_failures, window=window)),
                            host, port)
    try:
        service.start()
        emit(ctx, {"url": service.url, "accounts": str(accounts_path), "users": len(store.usernames()),
                   "pid": os.getpid()},
             f"key server at {service.url} ({len(store.usernames())} accounts in {accounts_path}); "
             "SIGTERM or Ctrl-C to stop")
        _wait_for_signal()
    finally:
        service.stop()
    click.echo("key server stopped", err=True)


@keyserver_group.command("add-user")
@click.argument("username")
@click.option("--url", default="http://127.0.0.1:8342", show_default=True, help="The running key server.")
@click.option("--fund", type=click.IntRange(0), default=0, show_default=True,
              help="Send this many sats from the toolkit wallet to the new key (and mine a block).")
@JSON_OPT
@click.pass_context
def keyserver_add_user(ctx: click.Context, username: str, url: str, fund: int, json_out: bool) -> None:
    """Enrol USERNAME with a fresh key, sealed here under its password (env BTCMICRO_METER_PASSWORD, else
    a prompt); the key server receives the sealed blob and a login verifier, never the password."""
    from btcmicro.channels.bitcoinj.metered import KeyServer
    from btcmicro.core.keys import PrivateKey
    from btcmicro.script.standard import p2wpkh, script_to_address
    from btcmicro.service.keyserver import KeyServerClient

    KeyServer.check_username(username)
    client = KeyServerClient(url, connect_retries=0)
    try:
        client.get("/keys/salt", username=username)  # the key server answers: only then ask for the password
        password = os.environ.get(METER_PASSWORD_ENV) or str(
            click.prompt(f"password for {username}", hide_input=True, confirmation_prompt=True))
        key = PrivateKey.generate()
        client.enroll(username, password, key)
    finally:
        client.close()
    address = script_to_address(bytes(p2wpkh(key.pubkey)))
    data: dict[str, object] = {"username": username, "address": address, "funded": fund}
    if fund:
        rpc = ctx.obj.rpc()
        wallet = ctx.obj.wallet(rpc)
        data["funding_txid"] = wallet.send(address, fund)
        rpc.generatetoaddress(1, wallet.address())
    emit(ctx, data, f"{username} enrolled at {url}; key address {address}"
                    + (f", funded with {fund:,} sats (confirmed)" if fund else " (fund it to open channels)"))


@click.group("meter")
def meter_group() -> None:
    """The metered service's client app: a local web page to log in, watch usage and log off."""


@meter_group.command("serve")
@HOST_OPT
@click.option("--port", type=click.IntRange(0, 65535), default=8343, show_default=True)
@click.option("--keyserver", "keyserver_url", default="http://127.0.0.1:8342", show_default=True)
@click.option("--router", "router_url", default="http://127.0.0.1:8340", show_default=True)
@click.option("--deposit", type=click.IntRange(1), default=100_000, show_default=True, help="Sats locked per channel.")
@click.option("--window", type=click.IntRange(1), default=6 * 3600, show_default=True,
              help="The refund's time window (s; counted in 10-minute blocks).")
@click.option("--page-timeout", type=click.FloatRange(0), default=5.0, show_default=True,
              help="Close the channel when the page has not asked for this long (0: never).")
@click.option("--dir", "directory", type=click.Path(path_type=Path),
              help="Channel stores (default <datadir>/meter; keys encrypted under each user's password).")
@JSON_OPT
@click.pass_context
def meter_serve(ctx: click.Context, host: str, port: int, keyserver_url: str, router_url: str, deposit: int,
                window: int, page_timeout: float, directory: Path | None, json_out: bool) -> None:
    """Serve the client app until SIGTERM or SIGINT; open its URL in a browser."""
    from btcmicro.service.meter import MeterApp, MeterService
    from btcmicro.service.runner import exposure_warning

    warning = exposure_warning(host)
    if warning:
        click.echo(warning, err=True)
    app = MeterApp(ctx.obj.rpc(), keyserver_url, router_url, directory or Path(ctx.obj.datadir) / "meter",
                   deposit=deposit, window_secs=window, page_timeout=page_timeout)
    service = MeterService(app, host, port)
    try:
        service.start()
        emit(ctx, {"url": service.url, "keyserver": keyserver_url, "router": router_url, "pid": os.getpid()},
             f"metercoin client at {service.url} (key server {keyserver_url}, router {router_url}); "
             "SIGTERM or Ctrl-C to stop")
        _wait_for_signal()
    finally:
        app.session.logout("the app stopped")
        service.stop()
    click.echo("metercoin client stopped", err=True)
