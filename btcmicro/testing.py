"""Test doubles for the ports, for node-free tests of the parties' own logic.

- :class:`FakeChain`: a typed :class:`~btcmicro.ports.Chain` holding outputs, a mempool and blocks
  that a test sets up or that broadcasts create. It tracks which outputs exist and are spent, so a
  party's bookkeeping (escrow live, deposit spent, claim confirmed, refund seen) can be walked
  without a node. It **never judges a script or a signature**: every verdict on consensus comes from
  a real node, in the integration tests. ``reject_next`` makes it refuse a broadcast the way a node
  would, with a reason the test chooses.
- :class:`ManualClock`: a :class:`~btcmicro.ports.Clock` a test moves by hand.
- :func:`counter_rng`: a deterministic :class:`~btcmicro.ports.Rng`.

The pytest fixtures that start a real regtest node live in :mod:`btcmicro.pytest_plugin`.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from bitcoin.core import CTransaction, b2lx

from btcmicro.core.errors import NodeError
from btcmicro.node.rpc_codes import RPCErrorCode
from btcmicro.ports import Rng, SpendInfo, TxStatus, UtxoInfo

__all__ = ["FakeChain", "ManualClock", "counter_rng", "NOW", "FAKE_REJECT_CODE"]

NOW = 1_700_000_000
FAKE_REJECT_CODE = RPCErrorCode.RPC_VERIFY_REJECTED  # what a refused broadcast carries


@dataclass
class _Output:
    value: int
    script_pubkey: bytes
    height: int | None  # None: created by a mempool transaction
    coinbase: bool = False


@dataclass
class _Tx:
    hex: str
    height: int | None  # None: in the mempool
    spends: tuple[tuple[str, int], ...]


@dataclass
class FakeChain:
    """A chain whose outputs, mempool and tip a test controls; see the module docstring.

    ``lookups`` counts :meth:`get_utxo` calls (a party's caching can be checked), ``broadcasts`` keeps
    every raw transaction a party sent, in order.
    """

    tip: int = 200
    mtp: int = NOW
    lookups: int = 0
    broadcasts: list[str] = field(default_factory=list)
    _outputs: dict[tuple[str, int], _Output] = field(default_factory=dict)
    _spent_by: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)  # outpoint -> (txid, input)
    _txs: dict[str, _Tx] = field(default_factory=dict)
    _blocks: dict[int, list[str]] = field(default_factory=dict)
    _reject: list[str] = field(default_factory=list)

    # --- set-up ---------------------------------------------------------------------------------

    def add_output(self, txid: str, vout: int, value: int, script_pubkey: bytes, *, confirmations: int = 1,
                   coinbase: bool = False) -> UtxoInfo:
        """An unspent output created outside the parties (a funding the test pretends happened)."""
        height = None if confirmations <= 0 else self.tip - confirmations + 1
        self._outputs[(txid, vout)] = _Output(int(value), bytes(script_pubkey), height, coinbase)
        self._txs.setdefault(txid, _Tx("", height, ()))
        info = self.get_utxo(txid, vout)
        self.lookups -= 1
        assert info is not None
        return info

    def spend_output(self, txid: str, vout: int, *, by: str = "00" * 32, confirmations: int = 1) -> None:
        """Mark an output spent by a transaction the parties did not send (a third party's)."""
        self._spent_by[(txid, vout)] = (by, 0)
        self._txs.setdefault(by, _Tx("", None if confirmations <= 0 else self.tip - confirmations + 1, ()))

    def forget_tx(self, txid: str) -> None:
        """The node never heard of ``txid``: its outputs and the record of it are gone (a funding
        that never reached the chain, or one reorged away and evicted)."""
        for op in [op for op in self._outputs if op[0] == txid]:
            del self._outputs[op]
            self._spent_by.pop(op, None)
        self._txs.pop(txid, None)

    def reject_next(self, reason: str) -> None:
        """The next broadcast (or test_accept) is refused with ``reason``, as a node would."""
        self._reject.append(reason)

    def mine(self, n: int = 1) -> int:
        """Mine ``n`` blocks; the first confirms the whole mempool. The new tip height."""
        for i in range(n):
            self.tip += 1
            self.mtp += 600
            block: list[str] = []
            if i == 0:
                for t in self._txs.values():
                    if t.height is None:
                        t.height = self.tip
                        block.append(t.hex)
                for out in self._outputs.values():
                    if out.height is None:
                        out.height = self.tip
            self._blocks[self.tip] = block
        return self.tip

    # --- the Chain port ---------------------------------------------------------------------------

    def height(self) -> int:
        return self.tip

    def median_time_past(self) -> int:
        return self.mtp

    def _check(self, tx: CTransaction) -> str | None:
        if self._reject:
            return self._reject.pop(0)
        if not tx.vin:
            return "bad-txns-vin-empty"
        for txin in tx.vin:
            op = (b2lx(txin.prevout.hash), int(txin.prevout.n))
            if op not in self._outputs or op in self._spent_by:
                return "bad-txns-inputs-missingorspent"
        return None

    def test_accept(self, tx_hex: str) -> str | None:
        txid = str(b2lx(CTransaction.deserialize(bytes.fromhex(tx_hex)).GetTxid()))
        if txid in self._txs and self._txs[txid].hex == tx_hex:
            return "txn-already-in-mempool"
        return self._check(CTransaction.deserialize(bytes.fromhex(tx_hex)))

    def broadcast(self, tx_hex: str) -> str:
        tx = CTransaction.deserialize(bytes.fromhex(tx_hex))
        txid = str(b2lx(tx.GetTxid()))
        self.broadcasts.append(tx_hex)
        if txid in self._txs and self._txs[txid].hex == tx_hex:
            return txid  # idempotent, as the port requires
        reason = self._check(tx)
        if reason is not None:
            raise NodeError(FAKE_REJECT_CODE, reason)
        spends = tuple((b2lx(i.prevout.hash), int(i.prevout.n)) for i in tx.vin)
        for n, op in enumerate(spends):
            self._spent_by[op] = (txid, n)
        for n, out in enumerate(tx.vout):
            self._outputs[(txid, n)] = _Output(int(out.nValue), bytes(out.scriptPubKey), None)
        self._txs[txid] = _Tx(tx_hex, None, spends)
        return txid

    def get_tx(self, txid: str) -> TxStatus | None:
        t = self._txs.get(txid)
        if t is None:
            return None
        confs = 0 if t.height is None else self.tip - t.height + 1
        return TxStatus(txid, t.hex, confs, t.height)

    def get_utxo(self, txid: str, vout: int, *, include_mempool: bool = True) -> UtxoInfo | None:
        self.lookups += 1
        out = self._outputs.get((txid, vout))
        if out is None:
            return None
        spender = self._spent_by.get((txid, vout))
        if spender is not None:
            spent_in_block = self._txs[spender[0]].height is not None
            if spent_in_block or include_mempool:
                return None
        if out.height is None and not include_mempool:
            return None
        confs = 0 if out.height is None else self.tip - out.height + 1
        return UtxoInfo(txid, vout, out.value, out.script_pubkey, confs, out.coinbase)

    def find_spend(self, txid: str, vout: int, *, from_height: int) -> SpendInfo | None:
        spender = self._spent_by.get((txid, vout))
        if spender is None:
            return None
        t = self._txs[spender[0]]
        if t.height is not None and t.height < from_height:
            return None
        return SpendInfo(spender[0], t.hex, spender[1], t.height)

    def block_transactions(self, height: int) -> list[str]:
        return list(self._blocks.get(height, []))

    def mempool_transactions(self) -> list[str]:
        return [t.hex for t in self._txs.values() if t.height is None and t.hex]


class ManualClock:
    """A :class:`~btcmicro.ports.Clock` that stands still until the test moves it."""

    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def counter_rng(seed: int = 0) -> Rng:
    """Deterministic bytes: each call returns the next counter value, big-endian, ``n`` bytes long."""
    counter: Iterable[int] = itertools.count(seed)
    it = iter(counter)

    def rng(n: int, /) -> bytes:
        return next(it).to_bytes(n, "big")

    return rng

