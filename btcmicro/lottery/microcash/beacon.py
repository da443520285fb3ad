"""What MicroCash needs from a node beyond :class:`btcmicro.ports.Chain`: block hashes for the draw
and a broadcast that lets a provably unspendable output carry value (the penalty burn).

:class:`Beacon` is the port; :class:`RPCBeacon` its adapter over any client with ``call(method,
*args)`` (both engines take ``getblockhash`` and ``sendrawtransaction``'s ``maxburnamount``);
:class:`btcmicro.lottery.microcash.testing.FakeBeacon` is the test double.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

__all__ = ["Beacon", "RPCBeacon"]


class Beacon(Protocol):
    def block_hash(self, height: int) -> str | None:
        """The display hex of the active chain's block at ``height`` (as ``getblockhash``), or None."""
        ...

    def broadcast_burn(self, tx_hex: str, max_burn: int) -> str:
        """Send a transaction burning at most ``max_burn`` sats to OP_RETURN; its txid."""
        ...


class RPCBeacon:
    """:class:`Beacon` over a node's RPC client."""

    def __init__(self, rpc: Any) -> None:
        self.rpc = rpc

    def block_hash(self, height: int) -> str | None:
        if height < 0 or height > int(self.rpc.call("getblockcount")):
            return None
        return str(self.rpc.call("getblockhash", height))

    def broadcast_burn(self, tx_hex: str, max_burn: int) -> str:
        return str(self.rpc.call("sendrawtransaction", tx_hex, Decimal("0.10"),
                                 Decimal(max_burn) / Decimal(100_000_000)))
