"""``btcmicro dastripathi ...`` as a payer runs it, against a merchant served over HTTP on the node: a voucher
channel, and microcoins on one (``fund --coins``, ``coins open/send/settle``)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from btcmicro.channels.dastripathi import Merchant, SQLiteMerchantStore, SQLiteMicrocoinStore
from btcmicro.cli import main
from btcmicro.core.keys import PrivateKey
from btcmicro.node.chain import RPCChain
from btcmicro.service import ServiceThread
from btcmicro.service.dastripathi import HTTPMerchant, create_dastripathi_app
from btcmicro.wallet import Funder
from tests.cli.test_no_traceback import assert_only_one_line, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def payer_cli(node, rpc, bank, datadir):
    wallet = Funder(rpc, directory=datadir / "wallet")
    bank.ensure_balance(2_000_000)
    bank.send_many([(wallet.address(), 1_000_000)])
    bank.mine_to_self(1)
    runner = CliRunner()

    def cli(*args: str, ok: bool = True):
        res = runner.invoke(main, ["--datadir", str(datadir), "--url", node.url, "--cookie", str(node.cookie_path),
                                   "dastripathi", *args], env={"BTCMICRO_PASSPHRASE": None})
        assert (res.exit_code == 0) is ok, (args, res.output, res.exception)
        if not ok:
            return f"{res.output}{res.exception}"
        return json.loads(res.output) if "--json" in args else res.output
    return cli


def test_cli_fund_open_pay_status_refund(node, rpc, bank, tmp_path):
    cli = payer_cli(node, rpc, bank, tmp_path / "cli")
    merchant = Merchant(RPCChain(rpc), SQLiteMerchantStore(), PrivateKey.generate(), margin=1)

    with ServiceThread(create_dastripathi_app(merchant)) as svc:
        funded = cli("fund", svc.url, "100000", "--blocks", "4", "--json")
        eid = funded["escrow_id"]
        assert funded["status"] == "funded"
        cli("open", eid, ok=False)  # unconfirmed: the merchant refuses
        bank.mine_to_self(1)
        assert cli("open", eid, "--json")["status"] == "open"
        assert cli("pay", eid, "1500", "--json")["paid"] == 1_500
        assert cli("pay", eid, "500", "--json")["paid"] == 2_000
        assert merchant.store.channel(eid).paid == 2_000
        assert "paid 2,000 of 100,000" in cli("status")
        cli("refund", eid, ok=False)  # before t: the node refuses
        bank.mine_to_self(3)
        assert cli("refund", eid, "--json")["refund_txid"]
        bank.mine_to_self(1)
        assert cli("status", eid, "--json")[0]["status"] == "refunded"


def test_cli_microcoins_open_send_settle(node, rpc, bank, tmp_path, monkeypatch, capsys):
    cli = payer_cli(node, rpc, bank, tmp_path / "cli")
    merchant = Merchant(RPCChain(rpc), SQLiteMerchantStore(), PrivateKey.generate(), margin=1,
                        coins=SQLiteMicrocoinStore())
    with ServiceThread(create_dastripathi_app(merchant)) as svc:
        assert "--coins and --coin-unit go together" in cli("fund", svc.url, "50000", "--coins", "10", ok=False)
        assert "exceeds the deposit" in cli("fund", svc.url, "5000", "--coins", "10", "--coin-unit", "600", ok=False)
        funded = cli("fund", svc.url, "50000", "--blocks", "6", "--coins", "10", "--coin-unit", "700", "--json")
        eid = funded["escrow_id"]
        assert funded["coins"] == {"n": 10, "unit": 700}
        bank.mine_to_self(1)
        cli("open", eid)
        assert "run 'dastripathi coins open' first" in cli("coins", "send", eid, ok=False)
        assert cli("coins", "open", eid, "--json")["index"] == 0
        assert cli("pay", eid, "1000", "--json")["paid"] == 1_000  # an ordinary payment beside the coins
        assert cli("coins", "send", eid, "2", "--json")["owed"] == 1_400
        assert "3 of 10 taken  owed 2,100 sats" in cli("coins", "send", eid)
        assert cli("coins", "settle", eid, "--json")["paid"] == 3_100
        assert "nothing due" in cli("coins", "settle", eid)
        args = ("--datadir", str(tmp_path / "cli"), "--url", node.url, "--cookie", str(node.cookie_path),
                "dastripathi", "coins", "send", eid, "8")  # up to coin 11: the root commits n = 10
        monkeypatch.delenv("BTCMICRO_PASSPHRASE", raising=False)
        code, out = run_cli(monkeypatch, capsys, *args)
        assert_only_one_line(code, out, args)
        assert "7 of the chain's 10 coins are left; none sent" in out
        assert merchant.store.channel(eid).paid == 3_100 and merchant.coin_receiver(eid).index == 3
        real = HTTPMerchant.channel

        def lying(self, escrow_id):  # a merchant claiming coin 9 and the whole deposit owed
            held = real(self, escrow_id)
            return {**held, "coins": {**held["coins"], "index": 9, "owed": 50_000}}

        monkeypatch.setattr(HTTPMerchant, "channel", lying)
        assert cli("coins", "send", eid, "--json")["index"] == 4  # coin 4, after the payer's own last
        assert cli("coins", "settle", eid, "--json")["paid"] == 3_800  # coin 4's 700 sats, not the deposit
        assert merchant.store.channel(eid).paid == 3_800
