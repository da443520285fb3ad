"""The embedded regtest engine: Bitcoin Core's consensus code (libbitcoinkernel)
behind Bitcoin Core's JSON-RPC, for machines without bitcoind.

What it is not: no P2P, no wallet, and only the policy rules listed in
docs/engine.md. Every block and every script is judged by the kernel.
"""
from btcmicro.node.engine.node import ENGINE_VERSION, Engine, RPCError
from btcmicro.node.engine.server import EmbeddedNode

__all__ = ["EmbeddedNode", "Engine", "RPCError", "ENGINE_VERSION"]
