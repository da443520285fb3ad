"""Bitcoin Core's JSON-RPC error codes (``src/rpc/protocol.h``) for the node layer.

:class:`RPCErrorCode` is the one enum of them, shared by the RPC client (:mod:`btcmicro.node.rpc`,
through the error tree's :class:`~btcmicro.core.errors.NodeError`) and the embedded engine's
server (:mod:`btcmicro.node.engine`). It is defined in :mod:`btcmicro.core.rpc_codes`, below
the error tree that is built on it, and is the same object here.
"""
from __future__ import annotations

from btcmicro.core.rpc_codes import RPCErrorCode

__all__ = ["RPCErrorCode"]
