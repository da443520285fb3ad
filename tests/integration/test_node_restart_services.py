"""Services ride out a node restart (issue 13): ``btcmicro channel serve`` keeps running while its node
is killed and away for several seconds, and when the node comes back (``regtest start``, same address)
a payment works without restarting the service, and its watcher settles a channel whose expiry margin
was passed by blocks it did not see one by one; a MICROPAY2 merchant and its VTS answer 503 with a
retry hint while the node is away and sell again when it is back."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from btcmicro.bench.channel import PASSPHRASE, ChannelServerProcess
from btcmicro.cli import main
from btcmicro.node.bitcoind import free_port
from btcmicro.node.launcher import attach_record, start_detached, stop_detached
from btcmicro.pytest_plugin import NO_BITCOIND, bitcoind_path
from btcmicro.service.app import operator_headers, read_operator_token
from btcmicro.wallet import Funder

pytestmark = pytest.mark.integration


@pytest.fixture(params=["embedded", "bitcoind"])
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "bitcoind" and bitcoind_path() is None:
        pytest.skip(NO_BITCOIND)
    return str(request.param)


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_channel_serve_rides_out_a_node_restart(engine: str, tmp_path: Path) -> None:
    nodedir = tmp_path / "node"
    info = start_detached(engine, nodedir, rpc_port=free_port())
    server = None
    try:
        rpc = attach_record(nodedir)
        bank = Funder(rpc)
        bank.ensure_balance(4_000_000)
        datadir = tmp_path / "cli"
        wallet = Funder(rpc, directory=datadir / "wallet")
        bank.send_many([(wallet.address(), 3_000_000)])
        bank.mine_to_self(1)
        server = ChannelServerProcess(info["url"], info["cookie_file"], tmp_path / "srv",
                                      tmp_path / "srv" / "server.db",
                                      args=("--min-window", "600", "--expiry", "height", "--poll", "0.2",
                                            "--close-margin-blocks", "3")).start()
        runner = CliRunner()
        env = {"BTCMICRO_CHANNEL_PASSPHRASE": PASSPHRASE, "BTCMICRO_PASSPHRASE": None}

        def cli(*args: str) -> Any:
            record = json.loads((nodedir / "btcmicro-node.json").read_text())
            res = runner.invoke(main, ["--datadir", str(datadir), "--url", record["url"],
                                       "--cookie", record["cookie_file"], "channel", *args, "--json"], env=env)
            assert res.exit_code == 0, (args, res.output, res.exception)
            return json.loads(res.output)

        def server_rows() -> list[dict[str, Any]]:
            token = tmp_path / "srv" / "server.token"  # the listings are operator only where a token is kept
            auth = operator_headers(read_operator_token(token)) if token.exists() else {}
            r = httpx.get(server.url + "/channel/channels", headers=auth, timeout=10)
            assert r.status_code == 200, r.text
            return list(r.json())

        opened = cli("open", server.url, "500000", "--window", "86340")
        cli("pay", "2000")

        # The node is killed and stays away for several seconds: the server keeps running.
        os.kill(int(info["pid"]), signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(int(info["pid"]), 0)
        away_until = time.monotonic() + 4
        while time.monotonic() < away_until:
            assert server.proc is not None and server.proc.poll() is None, "channel serve exited with its node"
            r = httpx.get(server.url + "/channel", timeout=10)
            assert r.status_code == 200  # what needs no node is still served
            time.sleep(0.2)

        # The node comes back (one command, same address); the service was never restarted.
        back = start_detached(engine, nodedir)
        assert back["url"] == info["url"] and back["recovered"] == info["pid"]
        info = back
        # The node lost its mempool with the crash, the unconfirmed deposit with it: the watcher, seeing
        # the node back, looks at once and sends the deposit again.
        rpc = attach_record(nodedir)
        wait_for(lambda: opened["deposit_txid"] in rpc.getrawmempool(), what="the watcher to rebroadcast the deposit")
        paid = cli("pay", "3000")
        assert paid["payments"][-1]["change"] == 494_000  # 500,000 - 1,000 at opening - 2,000 - 3,000

        # Blocks it did not see one by one: the channel's expiry margin is passed in one jump, and the
        # server's watcher settles the channel at the height it finds.
        (row,) = server_rows()
        assert row["deposit_txid"] == opened["deposit_txid"] and row["status"] == "open"
        rpc.generatetoaddress(row["expiry"] - 3 - rpc.getblockcount(), bank.address())  # margin: 3 blocks
        wait_for(lambda: server_rows()[0]["status"] == "closing", what="the watcher to settle the channel")
        close_txid = server_rows()[0]["close_txid"]
        assert close_txid in rpc.getrawmempool()
        rpc.generatetoaddress(6, bank.address())  # the server forgets a settlement 6 blocks deep
        wait_for(lambda: server_rows() == [], what="the watcher to forget the settled channel")
        assert rpc.getrawtransaction(close_txid, True)["confirmations"] == 6
        assert server.proc is not None and server.proc.poll() is None
    finally:
        if server is not None:
            server.stop()
        stop_detached(nodedir)


def test_merchant_and_vts_ride_out_a_node_restart(engine: str, tmp_path: Path) -> None:
    """MICROPAY2: while the node is away, /buy answers 503 with Retry-After (and records nothing);
    when it is back (same address), tickets sell again, no service, party or client restarted."""
    import secrets
    from contextlib import ExitStack
    from fractions import Fraction

    from btcmicro.core.keys import PrivateKey
    from btcmicro.lottery.micropay2 import VTS, Merchant, Payer, SQLiteMerchantStore, SQLitePayerStore, SQLiteVTSStore
    from btcmicro.node.chain import RPCChain
    from btcmicro.service import ServiceThread
    from btcmicro.service.merchant import PayerClient, create_merchant_app
    from btcmicro.service.vts import HTTPVTS, create_vts_app

    nodedir = tmp_path / "node"
    info = start_detached(engine, nodedir, rpc_port=free_port())
    try:
        rpc = attach_record(nodedir)
        chain = RPCChain(rpc)
        funded = Funder(rpc)
        funded.ensure_balance(3_000_000)
        with ExitStack() as stack:
            vts = VTS(PrivateKey.generate(), SQLiteVTSStore(tmp_path / "vts.sqlite"), chain=chain)
            vts_url = stack.enter_context(ServiceThread(create_vts_app(vts))).url
            merchant = Merchant(secrets.token_bytes(32), chain, SQLiteMerchantStore(tmp_path / "m.sqlite"),
                                [vts.pubkey], price=40_000, k=1, tip_poll_seconds=0)
            http_vts = stack.enter_context(HTTPVTS(vts_url, vts.pubkey))
            shop = stack.enter_context(ServiceThread(create_merchant_app(merchant, [http_vts],
                                                                         claim_in_background=False)))
            payer = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(tmp_path / "p.sqlite"), [vts.pubkey],
                          funder=funded, max_price=40_000, max_overpay=Fraction(3, 2))
            payer.fund_escrows([200_000] * 10, chain.height() + 60)  # a win retires an escrow
            funded.confirm(1)
            payer.refresh()
            client = stack.enter_context(PayerClient(payer, shop.url))
            client.purchase()
            sold = merchant.store.count()[0]

            os.kill(int(info["pid"]), signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(int(info["pid"]), 0)
            ticket = payer.pay(client.ask())  # the merchant asks for a payment without the node
            r = httpx.post(shop.url + "/buy", json={"ticket": ticket.to_b64()}, timeout=10)
            assert r.status_code == 503, (r.status_code, r.text)  # the escrow cannot be checked
            assert r.json()["error"]["code"] == "NODE_UNAVAILABLE" and int(r.headers["retry-after"]) >= 1
            assert merchant.store.count()[0] == sold  # nothing recorded

            back = start_detached(engine, nodedir)
            assert back["url"] == info["url"]
            info = back
            for _ in range(3):
                client.purchase()  # sells again, with the same merchant, VTS and payer objects
            assert merchant.store.count()[0] == sold + 3
            assert chain.height() > 0
    finally:
        stop_detached(nodedir)
