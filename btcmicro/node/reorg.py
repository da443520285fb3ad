"""Force a chain reorganisation in tests, on either engine."""
from __future__ import annotations

from typing import Any

from btcmicro.core.errors import MethodNotFound

__all__ = ["force_reorg"]


def force_reorg(rpc: Any, depth: int, new_blocks: int | None = None, address: str | None = None) -> list[str]:
    """Replace the top ``depth`` blocks with a longer branch of empty blocks.

    Returns the new branch's block hashes. On bitcoind this is ``invalidateblock``
    of the block at ``height - depth + 1`` followed by mining. On the embedded
    engine, which has no ``invalidateblock``, it is ``generatefork`` from the fork
    point. Either way the orphaned blocks' transactions go back to the mempool
    where they are still valid. ``new_blocks`` defaults to ``depth + 1``.
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    height = rpc.getblockcount()
    if depth > height:
        raise ValueError(f"cannot reorg {depth} blocks on a chain of height {height}")
    n = depth + 1 if new_blocks is None else new_blocks
    if n <= depth:
        raise ValueError("the new branch must be longer than the one it replaces")
    fork_point = rpc.getblockhash(height - depth)
    try:
        args = [fork_point, n] + ([address] if address else [])
        return [str(h) for h in rpc.call("generatefork", *args)]
    except MethodNotFound:
        pass
    # bitcoind: invalidate the first block above the fork point. Its mempool
    # resurrects the transactions. Mining a longer branch then leaves the
    # invalidated blocks orphaned for good. We do not reconsider them:
    # reconsiderblock could switch back if their work were ever greater.
    rpc.invalidateblock(rpc.getblockhash(height - depth + 1))
    target = address or _BURN_ADDRESS
    return [rpc.call("generateblock", target, [])["hash"] for _ in range(n)]


# P2WSH of 32 zero bytes: nobody can spend it, fine for the coinbases of filler blocks.
_BURN_ADDRESS = "bcrt1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq3xueyj"
