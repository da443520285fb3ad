"""The downstream project's own code: a paywall that sells an article for a payment to its address.

It knows nothing of pytest; it takes any RPC client and a wallet, as an application would.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from btcmicro.node.rpc import sats


@dataclass
class Paywall:
    """Sell ``price`` sats of access: a buyer pays ``address``; :meth:`unlock` checks the payment on chain."""

    rpc: Any
    address: str
    price: int
    min_confirmations: int = 1
    sold: set[str] = field(default_factory=set)

    def unlock(self, txid: str) -> bool:
        """True once ``txid`` pays at least ``price`` to the paywall with enough confirmations; a txid
        unlocks once only."""
        if txid in self.sold:
            return False
        tx = self.rpc.getrawtransaction(txid, True)
        if int(tx.get("confirmations", 0)) < self.min_confirmations:
            return False
        paid = sum(sats(out["value"]) for out in tx["vout"] if out["scriptPubKey"].get("address") == self.address)
        if paid < self.price:
            return False
        self.sold.add(txid)
        return True
