"""``btcmicro wallet balance|address|coins|send`` on the node (issue 19, item 2): what ``mine`` and ``fund``
did, seen without ``rpc scantxoutset``; every figure checked against the node itself."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from btcmicro.cli import main
from btcmicro.cli._common import CHANNEL_PASSPHRASE_ENV, PASSPHRASE_ENV
from btcmicro.node.rpc import sats
from btcmicro.script.standard import InvalidAddress

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(node, tmp_path, monkeypatch):
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv(CHANNEL_PASSPHRASE_ENV, raising=False)
    base = ["--datadir", str(tmp_path / "dd"), "--url", node.url, "--cookie", str(node.cookie_path)]

    def run(*args: str, json_out: bool = True):
        result = CliRunner().invoke(main, [*base, *(["--json"] if json_out else []), *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout) if json_out else result.stdout

    return run


def test_wallet_balance_coins_address_send(cli, funded, rpc):
    empty = cli("wallet", "balance")
    assert (empty["spendable"], empty["immature"], empty["coins"]) == (0, 0, 0)
    assert "mine 101" in cli("wallet", "balance", json_out=False)

    address = cli("wallet", "address")["address"]
    assert cli("wallet", "address", json_out=False).strip() == address  # the same default key each time
    assert cli("wallet", "address", "--new")["address"] != address
    txid, vout = funded.fund(address, 300_000)
    assert cli("wallet", "coins") == []  # a payment from elsewhere shows once it confirms (scantxoutset)
    funded.confirm(1)
    assert [(c["txid"], c["vout"], c["sats"], c["confirmations"]) for c in cli("wallet", "coins")] == \
        [(txid, vout, 300_000, 1)]
    balance = cli("wallet", "balance")
    assert balance["spendable"] == 300_000 and balance["unconfirmed"] == 0 and balance["height"] == rpc.getblockcount()

    target = funded.address()
    sent = cli("wallet", "send", target, "120000")
    tx = rpc.getrawtransaction(sent["txid"], True)
    assert sats(tx["vout"][sent["vout"]]["value"]) == 120_000
    change = sum(sats(o["value"]) for o in tx["vout"]) - 120_000
    assert 300_000 - 120_000 - change == sent["fee"] > 0  # what the node holds, not what we meant
    after = cli("wallet", "balance")
    assert after["spendable"] == change and after["unconfirmed"] == change
    coins = cli("wallet", "coins", "--spendable")
    assert [(c["txid"], c["sats"]) for c in coins] == [(sent["txid"], change)]


def test_wallet_send_refuses_a_bad_address_before_reserving_anything(cli):
    with pytest.raises(InvalidAddress):
        cli("wallet", "send", "bc1qnotregtest", "1000")
