"""btcmicro.node: chain access.

One JSON-RPC client (:class:`RPCClient`) for either engine: a ``bitcoind`` child process
(:class:`BitcoindNode`) or the embedded engine (``btcmicro.node.engine.EmbeddedNode``).
:func:`start_node` picks one (``auto``: bitcoind when found, else embedded); :func:`attach`
connects to a node that is already running. Core's RPC error codes are
:class:`~btcmicro.node.rpc_codes.RPCErrorCode`.

The names below load their module on first use (PEP 562): importing one submodule (say
``btcmicro.node.rpc`` for the client) does not load the others, in particular not the launcher,
which imports the embedded engine and with it libbitcoinkernel.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from btcmicro.node.bitcoind import BitcoindNode, find_bitcoind
    from btcmicro.node.launcher import (
        RunningNode,
        attach,
        attach_record,
        read_node_record,
        resolve_engine,
        start_detached,
        start_node,
        stop_detached,
        write_node_record,
    )
    from btcmicro.node.reorg import force_reorg
    from btcmicro.node.rpc import RPCClient, btc, sats
    from btcmicro.node.rpc_codes import RPCErrorCode

__all__ = [
    "BitcoindNode",
    "RPCClient",
    "RPCErrorCode",
    "RunningNode",
    "attach",
    "attach_record",
    "btc",
    "find_bitcoind",
    "force_reorg",
    "read_node_record",
    "resolve_engine",
    "sats",
    "start_detached",
    "start_node",
    "stop_detached",
    "write_node_record",
]

_HOME = {
    "BitcoindNode": "bitcoind",
    "find_bitcoind": "bitcoind",
    "RunningNode": "launcher",
    "attach": "launcher",
    "attach_record": "launcher",
    "read_node_record": "launcher",
    "resolve_engine": "launcher",
    "start_detached": "launcher",
    "start_node": "launcher",
    "stop_detached": "launcher",
    "write_node_record": "launcher",
    "force_reorg": "reorg",
    "RPCClient": "rpc",
    "btc": "rpc",
    "sats": "rpc",
    "RPCErrorCode": "rpc_codes",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
