"""btcmicro.node: chain access.

One JSON-RPC client (:class:`RPCClient`) for either engine: a ``bitcoind`` child process
(:class:`BitcoindNode`) or the embedded engine (``btcmicro.node.engine.EmbeddedNode``,
imported on demand). :func:`start_node` picks one (``auto``: bitcoind when found, else
embedded); :func:`attach` connects to a node that is already running.
"""
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

__all__ = [
    "BitcoindNode",
    "RPCClient",
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
