"""``btcmicro dastripathi ...`` as a payer runs it, against a merchant served over HTTP on the node."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from btcmicro.channels.dastripathi import Merchant, SQLiteMerchantStore
from btcmicro.cli import main
from btcmicro.core.keys import PrivateKey
from btcmicro.node.chain import RPCChain
from btcmicro.service import ServiceThread
from btcmicro.service.dastripathi import create_dastripathi_app
from btcmicro.wallet import Funder

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


def test_cli_fund_open_pay_status_refund(node, rpc, bank, tmp_path):
    datadir = tmp_path / "cli"
    wallet = Funder(rpc, directory=datadir / "wallet")
    bank.ensure_balance(2_000_000)
    bank.send_many([(wallet.address(), 1_000_000)])
    bank.mine_to_self(1)
    merchant = Merchant(RPCChain(rpc), SQLiteMerchantStore(), PrivateKey.generate(), margin=1)
    runner = CliRunner()

    def cli(*args: str, ok: bool = True):
        res = runner.invoke(main, ["--datadir", str(datadir), "--url", node.url, "--cookie", str(node.cookie_path),
                                   "dastripathi", *args], env={"BTCMICRO_PASSPHRASE": None})
        assert (res.exit_code == 0) is ok, (args, res.output, res.exception)
        return json.loads(res.output) if ok and "--json" in args else res.output

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
