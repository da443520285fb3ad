"""The metered-service tour of ``btcmicro demo``: Bloomer & Nishimura's "metercoin" on loopback.

The three services of the metered router run in threads of this process (``btcmicro keyserver
serve``, ``router serve`` and ``meter serve`` run the same code as processes): a key server holding
the client's key sealed under her password, the router (channel server and metering proxy) and the
client app. The tour logs in through the client app's API as the login page would (a wrong password
first), downloads 3 MB through the proxy from a local file server while the app pays a megabyte
ahead, logs off, and reads the settlement back from the node.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from btcmicro.channels.bitcoinj import PaymentChannelServer, ServerConfig, SQLiteServerStore
from btcmicro.channels.bitcoinj.metered import JSONAccountStore, KeyServer, MeteredRouter, Tariff, seal_key
from btcmicro.core.amounts import format_sats
from btcmicro.core.keys import PrivateKey
from btcmicro.node.chain import RPCChain
from btcmicro.node.rpc import sats
from btcmicro.service.keyserver import create_keyserver_app
from btcmicro.service.meter import MeterApp, MeterService
from btcmicro.service.proxy import FileServer
from btcmicro.service.router import RouterService
from btcmicro.service.runner import ServiceThread

__all__ = ["tour", "DEPOSIT", "MEGABYTES"]

DEPOSIT = 100_000
MEGABYTES = 3
_USER, _PASSWORD = "alice", "correct horse battery staple"


def _until(cond: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"metered tour: {what} did not happen within {timeout:g} s")
        time.sleep(0.02)


def tour(rpc: Any, wallet: Any, workdir: Path | str, say: Callable[[str], None], *, megabytes: int = MEGABYTES,
         price: int = 10_000) -> dict[str, Any]:
    """Run the metered service on ``rpc`` with coins from ``wallet`` (``megabytes`` downloaded at
    ``price`` sats per megabyte); a JSON-able report."""
    workdir = Path(workdir)
    tariff = Tariff(price)
    key = PrivateKey.generate()
    deposit = max(DEPOSIT, (megabytes + 2) * tariff.increment_sats)
    wallet.ensure_balance(deposit * 3)
    wallet.send_many([(wallet.address("p2wpkh", key), deposit * 2)])
    wallet.confirm(1)
    keys = KeyServer(JSONAccountStore(workdir / "accounts.json"))
    keys.enroll(seal_key(_USER, _PASSWORD, key))
    (workdir / "files").mkdir()
    (workdir / "files" / "video.bin").write_bytes(os.urandom(megabytes * 1_000_000))
    store = SQLiteServerStore(workdir / "router.db", passphrase="demo")
    config = ServerConfig(expiry_by_height=True, min_time_window_secs=600, min_payment=tariff.increment_sats,
                          min_channel_size=max(50_000, tariff.increment_sats), close_margin_blocks=2)
    router = MeteredRouter(PaymentChannelServer(RPCChain(rpc), store, config=config), tariff)
    report: dict[str, Any] = {}
    with ServiceThread(create_keyserver_app(keys)) as ks, RouterService(router) as rt, \
            FileServer(workdir / "files") as files:
        app = MeterApp(rpc, ks.url, rt.url, workdir / "meter", deposit=deposit, window_secs=3_600, page_timeout=0)
        with MeterService(app) as meter, httpx.Client(base_url=meter.url, trust_env=False, timeout=30) as api:
            say(f"metercoin: key server {ks.url}, router {rt.url} (proxy {rt.proxy_url}), client app {meter.url}")
            terms = api.get("/api/terms").json()
            say(f"   login page: \"current price is {terms['price_sats_per_mb']} satoshis / megabyte\"")
            bad = api.post("/api/login", json={"username": _USER, "password": "wrong"})
            say(f"   wrong password: HTTP {bad.status_code} {bad.json()['error']['code']}; nothing opened")
            api.post("/api/login", json={"username": _USER, "password": _PASSWORD}).raise_for_status()
            _until(lambda: app.session.state.value in ("open", "failed"), "the channel opening")
            state = api.get("/api/state").json()
            say("   opening: " + " -> ".join(s["state"] for s in state["steps"]))
            if state["state"] != "open":
                raise RuntimeError(f"metered tour: the channel did not open: {state['error']}")
            t0 = time.monotonic()
            with httpx.Client(proxy=state["proxy"]["with_credentials"], trust_env=False, timeout=60) as http:
                got = len(http.get(f"{files.url}/video.bin").content)
            took = time.monotonic() - t0
            _until(lambda: len(app.session.payments) >= megabytes, "the payments")
            state = api.get("/api/state").json()
            say(f"   downloaded {got:,} bytes through the proxy in {took:.2f} s; {state['payments']} payments of "
                f"{format_sats(tariff.increment_sats)} fired ahead of use, each acknowledged by the router")
            closed = api.post("/api/logout").json()
            wallet.confirm(1)
            close = rpc.getrawtransaction(closed["close_tx"]["txid"], True)
            outs = [sats(o["value"]) for o in close["vout"]]
            say(f"   logged off: the router settled on its best payment, mined in {close['txid'][:16]}… "
                f"(client {format_sats(closed['remaining'])}, router {format_sats(closed['paid'])} less the fee)")
            report = {"price_sats_per_mb": terms["price_sats_per_mb"], "wrong_password_status": bad.status_code,
                      "opening": [s["state"] for s in state["steps"]], "bytes": got, "seconds": round(took, 3),
                      "payments": state["payments"], "paid": closed["paid"], "remaining": closed["remaining"],
                      "close_txid": close["txid"], "close_outputs": outs, "deposit_txid": closed["deposit_tx"]["txid"]}
    store.close()
    return report
