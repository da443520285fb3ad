"""The paywall against a real regtest node: the fixtures come from btcmicro's pytest plugin."""
from __future__ import annotations

import pytest
from paywall import Paywall


@pytest.fixture
def paywall(rpc, funded_wallet):
    seller = funded_wallet.fresh_key("seller")
    return Paywall(rpc, funded_wallet.address(key=seller), price=10_000)


def test_a_confirmed_payment_unlocks_once(paywall, funded_wallet, rpc):
    txid = funded_wallet.send(paywall.address, 10_000)
    assert not paywall.unlock(txid)  # in the mempool only
    funded_wallet.confirm(1)
    assert paywall.unlock(txid)
    assert not paywall.unlock(txid)  # replayed


def test_an_underpayment_does_not(paywall, funded_wallet):
    txid = funded_wallet.send(paywall.address, 9_999)
    funded_wallet.confirm(1)
    assert not paywall.unlock(txid)


@pytest.mark.both_engines
def test_on_each_engine(regtest_engine, rpc):
    # the embedded engine always; bitcoind too when BITCOIND or PATH finds one (else skipped, saying why)
    assert rpc.getblockchaininfo()["chain"] == "regtest" and regtest_engine in ("embedded", "bitcoind")
