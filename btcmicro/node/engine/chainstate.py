"""Bitcoin Core's chainstate (libbitcoinkernel) plus the indexes an RPC node needs.

The kernel validates and connects blocks; it keeps its own UTXO set but does
not expose it. We keep our own views in step with the kernel's validation
interface events: a UTXO index (for the mempool and ``gettxout``), a
transaction index (``getrawtransaction``) and, per connected block, the coins
it spent (so a disconnect restores them). On start the views are rebuilt by
replaying the active chain from disk, so they can never disagree with it.
"""
from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pbk
from bitcoin.core import CBlock, CTransaction

from btcmicro.core.errors import EngineError

__all__ = ["Coin", "Chainstate", "BlockRejected", "MAX_FUTURE_BLOCK_TIME"]

MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60
Outpoint = tuple[bytes, int]  # (txid in internal byte order, output index)


@dataclass(frozen=True, slots=True)
class Coin:
    """An unspent output: value in sats, scriptPubKey, height of the block that made it."""

    value: int
    script_pubkey: bytes
    height: int
    coinbase: bool


class BlockRejected(EngineError):
    """A block Core would refuse, shaped like its BlockValidationState: ``reason`` and ``debug``."""

    def __init__(self, reason: str, debug: str = "") -> None:
        self.reason = reason
        self.debug = debug
        super().__init__(self.state)

    @property
    def state(self) -> str:
        """Core's ``BlockValidationState::ToString()``: ``reason`` or ``reason, debug``."""
        return f"{self.reason}, {self.debug}" if self.debug else self.reason


@dataclass(slots=True)
class BlockInfo:
    """What we keep about a block on the active chain."""

    hash: bytes  # internal byte order
    height: int
    header: bytes  # 80 bytes
    time: int
    txids: list[bytes]


class Chainstate:
    """The kernel's chainstate manager with UTXO and transaction indexes kept in step.

    Not thread-safe on its own: the engine serialises access with one lock.
    """

    def __init__(self, datadir: Path) -> None:
        self.datadir = Path(datadir)
        self._events: list[tuple[str, bytes, int]] = []
        self._checked: list[tuple[str, str]] = []
        self._callbacks = pbk.ValidationInterfaceCallbacks(
            block_connected=lambda _u, block, entry: self._events.append(
                ("connect", bytes(block), entry.height)
            ),
            block_disconnected=lambda _u, block, entry: self._events.append(
                ("disconnect", bytes(block), entry.height)
            ),
            block_checked=lambda _u, _block, state: self._checked.append(
                (state.validation_mode.name, state.block_validation_result.name)
            ),
        )
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._chainman: pbk.ChainstateManager | None = pbk.load_chainman(
            self.datadir, pbk.ChainType.REGTEST, self._callbacks
        )
        self.utxos: dict[Outpoint, Coin] = {}
        self.txindex: dict[bytes, tuple[bytes, int]] = {}  # txid -> (blockhash, position)
        self.undo: dict[bytes, list[tuple[Outpoint, Coin]]] = {}  # blockhash -> spent coins
        self.blocks: dict[bytes, BlockInfo] = {}  # active chain, by hash
        self.by_height: list[bytes] = []
        self.known_invalid: set[bytes] = set()
        self._replay()

    # -- lifecycle -------------------------------------------------------

    @property
    def chainman(self) -> pbk.ChainstateManager:
        if self._chainman is None:
            raise RuntimeError("chainstate is closed")
        return self._chainman

    def close(self) -> None:
        """Flush and release the kernel (its datadir lock is freed)."""
        if self._chainman is not None:
            self._chainman = None
            gc.collect()

    def _replay(self) -> None:
        chain = self.chainman.get_active_chain()
        for height in range(chain.height + 1):
            entry = chain.block_tree_entries[height]
            raw = bytes(self.chainman.blocks[entry])
            self._connect(raw, height)
        self._events.clear()
        self._checked.clear()

    # -- queries -----------------------------------------------------------

    @property
    def height(self) -> int:
        return len(self.by_height) - 1

    @property
    def tip(self) -> BlockInfo:
        return self.blocks[self.by_height[-1]]

    def median_time_past(self, height: int | None = None) -> int:
        """Median of the last 11 block times ending at ``height`` (default: tip)."""
        if height is None:
            height = self.height
        times = sorted(
            self.blocks[self.by_height[h]].time for h in range(max(0, height - 10), height + 1)
        )
        return times[len(times) // 2]

    def median_time_past_of(self, entry: pbk.BlockTreeEntry) -> int:
        """Median-time-past at any known block, on the active chain or a side branch."""
        times = []
        for _ in range(11):
            times.append(int(entry.block_header.timestamp.timestamp()))
            if entry.height == 0:
                break
            entry = entry.previous
        times.sort()
        return times[len(times) // 2]

    def entry(self, block_hash: bytes) -> pbk.BlockTreeEntry | None:
        """The kernel's block-index entry for any known block (active or not)."""
        key = pbk.BlockHash(block_hash)
        entries = self.chainman.block_tree_entries
        return entries[key] if key in entries else None  # noqa: SIM401 - the kernel's map has no get()

    def read_block(self, block_hash: bytes) -> bytes | None:
        entry = self.entry(block_hash)
        if entry is None:
            return None
        try:
            return bytes(self.chainman.blocks[entry])
        except RuntimeError:
            return None

    def in_active_chain(self, block_hash: bytes) -> bool:
        return block_hash in self.blocks

    # -- block processing ----------------------------------------------------

    def process_block(self, raw: bytes, on_change: Callable[[list[bytes], list[bytes]], None]) -> str | None:
        """Give a block to the kernel; apply the resulting chain events.

        Returns ``None`` when accepted, else Core's submitblock answer
        ("duplicate", "duplicate-invalid", "inconclusive" or a reject reason).
        ``on_change(disconnected_raw_blocks, connected_raw_blocks)`` runs after
        the indexes are updated, so the mempool can follow.
        """
        block = CBlock.deserialize(raw)
        block_hash = block.GetHash()
        if block_hash in self.known_invalid:
            return "duplicate-invalid"
        already = self.entry(block_hash) is not None and self.read_block(block_hash) is not None
        self._events.clear()
        self._checked.clear()
        try:
            is_new = self.chainman.process_block(pbk.Block(raw))
        except pbk.ProcessBlockException:
            is_new = False
        events, checked = list(self._events), list(self._checked)
        self._events.clear()
        self._checked.clear()
        disconnected: list[bytes] = []
        connected: list[bytes] = []
        for kind, blk, height in events:
            if kind == "disconnect":
                self._disconnect(blk, height)
                disconnected.append(blk)
            else:
                self._connect(blk, height)
                connected.append(blk)
        if events:
            on_change(disconnected, connected)
        if any(mode == "INVALID" for mode, _ in checked) and block_hash not in self.blocks:
            self.known_invalid.add(block_hash)
            results = [res for mode, res in checked if mode == "INVALID"]
            return _reject_reason(results[-1])
        if block_hash in self.blocks:
            return None if is_new or not already else "duplicate"
        if already or not is_new:
            return "duplicate" if already else "inconclusive"
        return "inconclusive"

    def _connect(self, raw: bytes, height: int) -> None:
        block = CBlock.deserialize(raw)
        block_hash = block.GetHash()
        spent: list[tuple[Outpoint, Coin]] = []
        txids = []
        for pos, tx in enumerate(block.vtx):
            txid = tx.GetTxid()
            txids.append(txid)
            coinbase = pos == 0
            if not coinbase:
                for txin in tx.vin:
                    op = (txin.prevout.hash, txin.prevout.n)
                    coin = self.utxos.pop(op, None)
                    if coin is not None:
                        spent.append((op, coin))
            for n, out in enumerate(tx.vout):
                spk = bytes(out.scriptPubKey)
                if spk[:1] == b"\x6a" or height == 0:
                    continue  # OP_RETURN outputs and the genesis coinbase are never spendable
                self.utxos[(txid, n)] = Coin(out.nValue, spk, height, coinbase)
            self.txindex[txid] = (block_hash, pos)
        self.undo[block_hash] = spent
        self.blocks[block_hash] = BlockInfo(block_hash, height, raw[:80], block.nTime, txids)
        if height != len(self.by_height):
            raise RuntimeError(f"connect at height {height} but tip is {self.height}")
        self.by_height.append(block_hash)

    def _disconnect(self, raw: bytes, height: int) -> None:
        block = CBlock.deserialize(raw)
        block_hash = block.GetHash()
        if self.by_height[-1] != block_hash:
            raise RuntimeError("disconnect of a block that is not the tip")
        for tx in block.vtx:
            txid = tx.GetTxid()
            for n in range(len(tx.vout)):
                self.utxos.pop((txid, n), None)
            if self.txindex.get(txid, (None,))[0] == block_hash:
                del self.txindex[txid]
        for op, coin in self.undo.pop(block_hash, []):
            self.utxos[op] = coin
        del self.blocks[block_hash]
        self.by_height.pop()

    def block_transactions(self, block_hash: bytes) -> list[CTransaction]:
        raw = self.read_block(block_hash)
        if raw is None:
            return []
        return list(CBlock.deserialize(raw).vtx)


def _reject_reason(result: str) -> str:
    """Map the kernel's BlockValidationResult to a submitblock answer.

    The kernel reports the class of failure, not Core's detailed reason
    string ("bad-cb-amount", ...); we return the closest Core-shaped name.
    """
    return {
        "CONSENSUS": "invalid",
        "CACHED_INVALID": "duplicate-invalid",
        "INVALID_HEADER": "bad-header",
        "MUTATED": "bad-txnmrklroot",
        "MISSING_PREV": "prev-blk-not-found",
        "INVALID_PREV": "bad-prevblk",
        "TIME_FUTURE": "time-too-new",
        "HEADER_LOW_WORK": "too-little-chainwork",
    }.get(result, "rejected")
