"""The chain as a protocol party sees it.

A party (channel client or server, payer, merchant, VTS, watcher) never opens a socket;
it asks a :class:`Chain`. :class:`RPCChain` answers from either engine over JSON-RPC.
Tests of pure state machines may pass any object with the same methods.

Amounts are integer satoshis; txids are display-order hex.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from btcmicro.core.errors import NodeError
from btcmicro.node.rpc import RPCClient, sats

__all__ = ["Chain", "RPCChain", "TxStatus", "UtxoInfo", "SpendInfo"]


@dataclass(frozen=True)
class TxStatus:
    """Where a transaction stands: ``confirmations`` 0 means in the mempool."""

    txid: str
    hex: str
    confirmations: int
    block_height: int | None


@dataclass(frozen=True)
class UtxoInfo:
    """An unspent output: ``confirmations`` 0 means created by a mempool transaction."""

    txid: str
    vout: int
    value: int
    script_pubkey: bytes
    confirmations: int
    coinbase: bool


@dataclass(frozen=True)
class SpendInfo:
    """A transaction spending an outpoint: ``block_height`` None while in the mempool."""

    txid: str
    hex: str
    input_index: int
    block_height: int | None


@runtime_checkable
class Chain(Protocol):
    def height(self) -> int: ...
    def median_time_past(self) -> int: ...
    def broadcast(self, tx_hex: str) -> str: ...
    def test_accept(self, tx_hex: str) -> str | None: ...
    def get_tx(self, txid: str) -> TxStatus | None: ...
    def get_utxo(self, txid: str, vout: int, *, include_mempool: bool = True) -> UtxoInfo | None: ...
    def find_spend(self, txid: str, vout: int, *, from_height: int) -> SpendInfo | None: ...


class RPCChain:
    """:class:`Chain` over Bitcoin Core's JSON-RPC (bitcoind or the embedded engine).

    Needs ``-txindex`` for :meth:`get_tx` of confirmed transactions not in the wallet
    (both engines in this project run with it).
    """

    def __init__(self, rpc: RPCClient) -> None:
        self.rpc = rpc

    def height(self) -> int:
        return int(self.rpc.call("getblockcount"))

    def tip(self) -> str:
        return str(self.rpc.call("getbestblockhash"))

    def median_time_past(self) -> int:
        return int(self.rpc.call("getblockchaininfo")["mediantime"])

    def broadcast(self, tx_hex: str) -> str:
        """Send to the mempool; raises :class:`NodeError` with Core's code and reason.

        Re-broadcasting a transaction already in the mempool or chain returns its txid
        (as Core does for the mempool; -27 "already in utxo set" is mapped to success).
        """
        try:
            return str(self.rpc.call("sendrawtransaction", tx_hex))
        except NodeError as e:
            if e.code == -27:  # RPC_VERIFY_ALREADY_IN_UTXO_SET: it is confirmed already
                return str(self.rpc.call("decoderawtransaction", tx_hex)["txid"])
            raise

    def test_accept(self, tx_hex: str) -> str | None:
        """None when the mempool would take the transaction, else Core's reject reason."""
        (res,) = self.rpc.call("testmempoolaccept", [tx_hex])
        if res.get("allowed"):
            return None
        return str(res.get("reject-reason") or "rejected")

    def get_tx(self, txid: str) -> TxStatus | None:
        try:
            res = self.rpc.call("getrawtransaction", txid, 1)
        except NodeError as e:
            if e.code == -5:  # RPC_INVALID_ADDRESS_OR_KEY: no such transaction
                return None
            raise
        confs = int(res.get("confirmations", 0) or 0)
        height = None
        if confs > 0:
            height = self.height() - confs + 1
        return TxStatus(txid=res["txid"], hex=res["hex"], confirmations=confs, block_height=height)

    def get_utxo(self, txid: str, vout: int, *, include_mempool: bool = True) -> UtxoInfo | None:
        res = self.rpc.call("gettxout", txid, vout, include_mempool)
        if res is None:
            return None
        return UtxoInfo(
            txid=txid,
            vout=vout,
            value=sats(res["value"]),
            script_pubkey=bytes.fromhex(res["scriptPubKey"]["hex"]),
            confirmations=int(res["confirmations"]),
            coinbase=bool(res.get("coinbase", False)),
        )

    def find_spend(self, txid: str, vout: int, *, from_height: int) -> SpendInfo | None:
        """The transaction spending ``txid:vout``: the mempool first, then blocks from
        ``from_height`` to the tip (on the active chain, so a reorged-away spend is gone).
        """
        for mtxid in self.rpc.call("getrawmempool"):
            found = self._spends(self.rpc.call("getrawtransaction", mtxid, 1), txid, vout, None)
            if found:
                return found
        tip = self.height()
        for h in range(max(0, from_height), tip + 1):
            block = self.rpc.call("getblock", self.rpc.call("getblockhash", h), 2)
            for tx in block["tx"]:
                found = self._spends(tx, txid, vout, h)
                if found:
                    return found
        return None

    @staticmethod
    def _spends(tx: dict, txid: str, vout: int, height: int | None) -> SpendInfo | None:
        for i, vin in enumerate(tx.get("vin", [])):
            if vin.get("txid") == txid and vin.get("vout") == vout:
                return SpendInfo(txid=tx["txid"], hex=tx["hex"], input_index=i, block_height=height)
        return None
