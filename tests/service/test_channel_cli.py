"""``btcmicro channel ...`` as a user runs it: ``serve`` as its own process, the client commands
against it, balances checked on the node, the change and the refund swept back to the wallet."""
from __future__ import annotations

import json
import signal

import pytest
from click.testing import CliRunner

from btcmicro.bench.channel import PASSPHRASE, ChannelServerProcess
from btcmicro.cli import main
from btcmicro.node.rpc import sats
from btcmicro.wallet import Funder

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


@pytest.fixture
def server_proc(node, tmp_path):
    proc = ChannelServerProcess(node.url, node.cookie_path, tmp_path / "srv", tmp_path / "srv" / "server.db",
                                args=("--min-window", "600", "--expiry", "height", "--poll", "0.2"))
    yield proc.start()
    proc.stop()


def test_cli_open_pay_close_refund_after_the_server_stops_and_sweep(node, rpc, bank, server_proc, tmp_path):
    datadir = tmp_path / "cli"
    wallet = Funder(rpc, directory=datadir / "wallet")
    bank.ensure_balance(4_000_000)
    bank.send_many([(wallet.address(), 3_000_000)])
    bank.mine_to_self(1)
    runner = CliRunner()
    env = {"BTCMICRO_CHANNEL_PASSPHRASE": PASSPHRASE, "BTCMICRO_PASSPHRASE": None}

    def cli(*args: str, ok: bool = True):
        res = runner.invoke(main, ["--datadir", str(datadir), "--url", node.url, "--cookie", str(node.cookie_path),
                                   "channel", *args], env=env)
        if ok:
            assert res.exit_code == 0, (args, res.output, res.exception)
            return json.loads(res.output) if "--json" in args else res.output
        assert res.exit_code != 0
        return res

    opened = cli("open", server_proc.url, "500000", "--window", "86340", "--json")
    txid = opened["deposit_txid"]
    assert (opened["status"], opened["paid"], opened["version"]) == ("open", 1_000, 3)
    paid = cli("pay", "2000", "--count", "3", "--info", "hello", "--json")
    assert [p["change"] for p in paid["payments"]] == [497_000, 495_000, 493_000]
    assert cli("status", "--json")["change"] == 493_000
    assert "paid        1,000" not in cli("list")  # readable listing
    server_rows = cli("list", "--server", "--store", str(tmp_path / "srv" / "server.db"), "--json")
    assert [(r["deposit_txid"], r["client_change"]) for r in server_rows] == [(txid, 493_000)]

    closed = cli("close", "--json")
    bank.mine_to_self(1)
    close_tx = rpc.getrawtransaction(closed["settlement_txid"], True)
    assert close_tx["confirmations"] == 1 and sats(close_tx["vout"][0]["value"]) == 493_000
    assert cli("status", txid, "--json")["status"] == "settled"

    # a second channel, then the server stops (SIGTERM: a clean exit); the client takes its refund
    # after the expiry (6 blocks for a 1 h window)
    second = cli("open", server_proc.url, "300000", "--window", "3600", "--json")
    server_proc.proc.send_signal(signal.SIGTERM)
    assert server_proc.proc.wait(10) == 0
    refused = cli("refund", ok=False)
    assert "refuses the refund (non-final)" in str(refused.exception)
    bank.mine_to_self(second["expiry"] - rpc.getblockcount())
    refund_txid = cli("refund", "--json")["refund_txid"]
    bank.mine_to_self(1)
    assert cli("status", second["deposit_txid"], "--json")["status"] == "refunded"

    swept = cli("sweep", "--json")
    assert sorted(swept["coins"]) == sorted([f"{closed['settlement_txid']}:0", f"{refund_txid}:0"])
    refund_value = sats(rpc.getrawtransaction(refund_txid, True)["vout"][0]["value"])
    assert swept["amount"] == 493_000 + refund_value - swept["fee"]
    bank.mine_to_self(1)
    out = rpc.getrawtransaction(swept["txid"], True)["vout"]
    assert [(o["scriptPubKey"]["address"], sats(o["value"])) for o in out] == [(wallet.address(), swept["amount"])]
    assert cli("sweep", "--json")["txid"] is None  # nothing left


def test_cli_pay_that_runs_out_says_what_was_paid_and_what_to_do(node, rpc, bank, server_proc, tmp_path):
    datadir = tmp_path / "cli"
    wallet = Funder(rpc, directory=datadir / "wallet")
    bank.ensure_balance(1_000_000)
    bank.send_many([(wallet.address(), 600_000)])
    bank.mine_to_self(1)
    runner = CliRunner()
    env = {"BTCMICRO_PASSPHRASE": PASSPHRASE, "BTCMICRO_CHANNEL_PASSPHRASE": None}
    base = ["--datadir", str(datadir), "--url", node.url, "--cookie", str(node.cookie_path), "channel"]

    opened = runner.invoke(main, [*base, "open", server_proc.url, "300000", "--window", "86340", "--json"], env=env)
    assert opened.exit_code == 0, opened.output
    res = runner.invoke(main, [*base, "pay", "100000", "--count", "5", "--json"], env=env)
    assert res.exit_code == 1
    out, err = res.stdout, res.stderr
    report = json.loads(out)
    assert [p["change"] for p in report["payments"]] == [199_000, 99_000]  # both acknowledged, then out of funds
    assert "insufficient funds" in report["stopped"] and "--count 3" in report["next"]
    assert err.strip().splitlines() == [
        f"error: stopped after 2 of 5 payments ({report['stopped']}): {report['next']}"]
    assert "Traceback" not in out + err
    status = runner.invoke(main, [*base, "status", "--json"], env=env)
    assert json.loads(status.output)["change"] == 99_000  # what the summary said is what the store holds
