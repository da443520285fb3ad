"""``tx describe TXID`` looks the transaction and the outputs it spends up through the node, so input values
and the fee are filled in; ``rpc help`` and ``rpc help METHOD`` print the node's own help (issue 19, item 7).
Both engines."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from btcmicro.cli import main
from btcmicro.core.errors import InvalidAddressOrKey
from btcmicro.node.rpc import sats

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]


@pytest.fixture
def cli(node, tmp_path):
    base = ["--datadir", str(tmp_path / "dd"), "--url", node.url, "--cookie", str(node.cookie_path)]

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, [*base, *args])
        assert result.exit_code == code, result.output
        return result.stdout

    return run


def test_tx_describe_txid_fills_values_and_fee(cli, funded, rpc):
    txid, _ = funded.fund(funded.address(), 30_000)
    tx = rpc.getrawtransaction(txid, True)
    spent = sum(sats(rpc.getrawtransaction(i["txid"], True)["vout"][i["vout"]]["value"]) for i in tx["vin"])
    fee = spent - sum(sats(o["value"]) for o in tx["vout"])  # the node's figures, not ours
    view = json.loads(cli("tx", "describe", txid, "--json"))
    assert view["txid"] == txid and view["fee"] == fee and view["input_total"] == spent
    assert [i["value"] for i in view["inputs"]] == [
        sats(rpc.getrawtransaction(i["txid"], True)["vout"][i["vout"]]["value"]) for i in tx["vin"]]
    assert f"fee {fee} " in cli("tx", "describe", txid)
    funded.confirm(1)  # confirmed: found through -txindex
    assert json.loads(cli("tx", "describe", txid, "--json"))["fee"] == fee
    # a coinbase spends nothing: described without values
    coinbase = rpc.getblock(rpc.getbestblockhash())["tx"][0]
    assert json.loads(cli("tx", "describe", coinbase, "--json"))["txid"] == coinbase
    # the raw hex still works without a node lookup
    assert json.loads(cli("tx", "describe", tx["hex"], "--json"))["fee"] is None


def test_tx_describe_unknown_txid_is_the_nodes_error(node, tmp_path):
    result = CliRunner().invoke(main, ["--datadir", str(tmp_path), "--url", node.url, "--cookie",
                                       str(node.cookie_path), "tx", "describe", "00" * 32])
    # a BtcmicroError: the console entry point prints it as one line (tests/cli/test_no_traceback.py)
    assert isinstance(result.exception, InvalidAddressOrKey)


def test_rpc_help(cli):
    listing = cli("rpc", "help")
    assert "getblockhash" in listing and "sendrawtransaction" in listing
    assert cli("rpc", "help", "getblockhash").startswith("getblockhash height")
