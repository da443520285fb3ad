"""btcmicro.testing: the fake chain keeps the port's contract (it judges no script)."""
from __future__ import annotations

import pytest
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, lx

from btcmicro.core.errors import NodeError
from btcmicro.ports import Chain, Clock, Rng
from btcmicro.testing import FakeChain, ManualClock, counter_rng

FUNDING = "11" * 32
SPK = bytes.fromhex("0014") + bytes(20)


def spend(txid: str, vout: int, value: int) -> str:
    tx = CMutableTransaction([CMutableTxIn(COutPoint(lx(txid), vout))], [CMutableTxOut(value, SPK)])
    return tx.serialize().hex()


def test_fake_chain_is_a_chain() -> None:
    chain: Chain = FakeChain()
    clock: Clock = ManualClock()
    rng: Rng = counter_rng(5)
    assert isinstance(chain, Chain)
    assert clock() == ManualClock().t
    assert rng(2) == b"\x00\x05" and rng(1) == b"\x06"


def test_broadcast_spends_creates_and_mining_confirms() -> None:
    chain = FakeChain(tip=100)
    chain.add_output(FUNDING, 0, 10_000, SPK, confirmations=3)
    assert chain.get_utxo(FUNDING, 0).confirmations == 3  # type: ignore[union-attr]  # just added
    raw = spend(FUNDING, 0, 9_000)
    txid = chain.broadcast(raw)
    assert chain.broadcast(raw) == txid  # idempotent
    assert chain.get_utxo(FUNDING, 0) is None
    assert chain.get_utxo(FUNDING, 0, include_mempool=False) is not None  # spent only in the mempool
    assert chain.get_utxo(txid, 0, include_mempool=False) is None
    assert chain.mempool_transactions() == [raw]
    found = chain.find_spend(FUNDING, 0, from_height=0)
    assert found is not None and found.txid == txid and found.block_height is None
    chain.mine(2)
    status = chain.get_tx(txid)
    assert status is not None and status.confirmations == 2 and status.block_height == 101
    assert chain.block_transactions(101) == [raw] and chain.mempool_transactions() == []
    assert chain.get_utxo(FUNDING, 0, include_mempool=False) is None


def test_double_spend_and_chosen_rejection_raise_like_a_node() -> None:
    chain = FakeChain()
    chain.add_output(FUNDING, 0, 10_000, SPK)
    chain.broadcast(spend(FUNDING, 0, 9_000))
    with pytest.raises(NodeError, match="missingorspent"):
        chain.broadcast(spend(FUNDING, 0, 8_000))
    chain.add_output(FUNDING, 1, 10_000, SPK)
    chain.reject_next("min relay fee not met")
    assert chain.test_accept(spend(FUNDING, 1, 9_999)) == "min relay fee not met"
    assert chain.test_accept(spend(FUNDING, 1, 9_999)) is None
    assert chain.get_utxo(FUNDING, 1) is not None  # nothing changed by the refusal
