"""The chain as a protocol party sees it.

A party (channel client or server, payer, merchant, VTS, watcher) never opens a socket;
it asks a :class:`~btcmicro.ports.Chain` (the port and its result types live in
:mod:`btcmicro.ports`; they are re-exported here). :class:`RPCChain` is its adapter over JSON-RPC,
for either engine; node-free tests use :class:`btcmicro.testing.FakeChain`.

Amounts are integer satoshis; txids are display-order hex.
"""
from __future__ import annotations

from bitcoin.core import CTransaction, b2lx

from btcmicro.core.errors import InvalidAddressOrKey, VerifyAlreadyInChain
from btcmicro.interop import rpc_client
from btcmicro.interop import tx_hex as as_tx_hex
from btcmicro.node.rpc import RPCClient, sats
from btcmicro.ports import Chain, SpendInfo, TxStatus, UtxoInfo

__all__ = ["Chain", "RPCChain", "TxStatus", "UtxoInfo", "SpendInfo"]


class RPCChain:
    """:class:`Chain` over Bitcoin Core's JSON-RPC (bitcoind or the embedded engine).

    Needs ``-txindex`` for :meth:`get_tx` of confirmed transactions not in the wallet
    (both engines in this project run with it).
    """

    def __init__(self, rpc: RPCClient) -> None:
        self.rpc = rpc_client(rpc)  # an AuthServiceProxy-style client works too (btcmicro.interop)

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
        if not isinstance(tx_hex, str):  # a CTransaction, a bitcoinutils Transaction, a BuiltTx ...
            tx_hex = as_tx_hex(tx_hex)
        try:
            return str(self.rpc.call("sendrawtransaction", tx_hex))
        except VerifyAlreadyInChain:  # -27 RPC_VERIFY_ALREADY_IN_UTXO_SET: it is confirmed already
            return str(self.rpc.call("decoderawtransaction", tx_hex)["txid"])

    def test_accept(self, tx_hex: str) -> str | None:
        """None when the mempool would take the transaction, else Core's reject reason."""
        (res,) = self.rpc.call("testmempoolaccept", [tx_hex])
        if res.get("allowed"):
            return None
        return str(res.get("reject-reason") or "rejected")

    def get_tx(self, txid: str) -> TxStatus | None:
        try:
            res = self.rpc.call("getrawtransaction", txid, 1)
        except InvalidAddressOrKey:  # -5: no such transaction
            return None
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

    def block_transactions(self, height: int) -> list[str]:
        """The raw transactions (hex) of the active chain's block at ``height``, coinbase first."""
        block = self.rpc.call("getblock", self.rpc.call("getblockhash", height), 2)
        return [tx["hex"] for tx in block["tx"]]

    def mempool_transactions(self) -> list[str]:
        """The raw transactions (hex) in the mempool (one that leaves meanwhile is skipped)."""
        out = []
        for txid in self.rpc.call("getrawmempool"):
            status = self.get_tx(txid)
            if status is not None:
                out.append(status.hex)
        return out

    def find_spend(self, txid: str, vout: int, *, from_height: int) -> SpendInfo | None:
        """The transaction spending ``txid:vout``: the mempool first, then blocks from
        ``from_height`` to the tip (on the active chain, so a reorged-away spend is gone).
        """
        found = self._spending(self.mempool_transactions(), txid, vout, None)
        for h in range(max(0, from_height), self.height() + 1):
            if found:
                break
            found = self._spending(self.block_transactions(h), txid, vout, h)
        return found

    @staticmethod
    def _spending(raw_txs: list[str], txid: str, vout: int, height: int | None) -> SpendInfo | None:
        prevout = bytes.fromhex(txid)[::-1] + vout.to_bytes(4, "little")
        for raw in raw_txs:
            tx = CTransaction.deserialize(bytes.fromhex(raw))
            for i, txin in enumerate(tx.vin):
                if txin.prevout.hash + txin.prevout.n.to_bytes(4, "little") == prevout:
                    return SpendInfo(txid=b2lx(tx.GetTxid()), hex=raw, input_index=i, block_height=height)
        return None
