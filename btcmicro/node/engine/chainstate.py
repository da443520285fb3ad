"""Bitcoin Core's chainstate (libbitcoinkernel) plus the indexes an RPC node needs.

The kernel validates and connects blocks; it keeps its own UTXO set but does
not expose it. We keep our own views in step with the kernel's validation
interface events: a UTXO index (for the mempool and ``gettxout``), a
transaction index (``getrawtransaction``) and, per connected block, the coins
it spent (so a disconnect restores them). On start the views are rebuilt by
replaying the active chain from disk, so they can never disagree with it.
"""
from __future__ import annotations

import functools
import gc
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pbk
from bitcoin.core import CBlock, CTransaction

from btcmicro.core.errors import EngineError
from btcmicro.core.hashes import hash256

__all__ = ["Coin", "Chainstate", "BlockRejected", "MAX_FUTURE_BLOCK_TIME", "ParsedTx", "parse_block",
           "kernel_block"]

MAX_FUTURE_BLOCK_TIME = 2 * 60 * 60
SCRIPT_CHECK_THREADS = int(os.environ.get("BTCMICRO_ENGINE_PAR", "15"))
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


class _Block(pbk.Block):  # type: ignore[misc]
    """A kernel block made from bytes without pbk's per-byte copy (``c_ubyte * n)(*raw)`` costs
    about 50 ms for a block of 1,000 transactions; the C call takes the bytes' buffer as is)."""

    def __init__(self, raw: bytes) -> None:  # noqa: D107 - see the class
        pbk.capi.KernelOpaquePtr.__init__(self, raw, len(raw))


def kernel_block(raw: bytes) -> pbk.Block:
    """``pbk.Block(raw)``, fast."""
    return _Block(raw)


@dataclass(slots=True)
class ParsedTx:
    """What the indexes need of one transaction, read straight from a block's bytes."""

    txid: bytes
    raw: bytes
    prevouts: list[Outpoint]
    outputs: list[tuple[int, bytes]]  # (value, scriptPubKey)


def _compact(b: bytes, i: int) -> tuple[int, int]:
    n = b[i]
    if n < 0xFD:
        return n, i + 1
    width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[n]
    return int.from_bytes(b[i + 1:i + 1 + width], "little"), i + 1 + width


def _parse_tx(b: bytes, i: int) -> tuple[ParsedTx, int]:
    start = i
    i += 4
    segwit = b[i] == 0 and b[i + 1] != 0
    if segwit:
        i += 2
    body = i
    n_in, i = _compact(b, i)
    prevouts: list[Outpoint] = []
    for _ in range(n_in):
        prevouts.append((b[i:i + 32], int.from_bytes(b[i + 32:i + 36], "little")))
        length, i = _compact(b, i + 36)
        i += length + 4
    n_out, i = _compact(b, i)
    outputs: list[tuple[int, bytes]] = []
    for _ in range(n_out):
        value = int.from_bytes(b[i:i + 8], "little", signed=True)
        length, i = _compact(b, i + 8)
        outputs.append((value, b[i:i + length]))
        i += length
    body_end = i
    if segwit:
        for _ in range(n_in):
            items, i = _compact(b, i)
            for _ in range(items):
                length, i = _compact(b, i)
                i += length
    i += 4
    raw = b[start:i]
    stripped = b[start:start + 4] + b[body:body_end] + b[i - 4:i] if segwit else raw
    return ParsedTx(hash256(stripped), raw, prevouts, outputs), i


@functools.lru_cache(maxsize=8)
def parse_block(raw: bytes) -> tuple[bytes, list[ParsedTx]]:
    """A block's hash and its transactions (txid, bytes, prevouts, outputs), without
    python-bitcoinlib's object model (which rebuilds the merkle tree on every read).

    Cached: the indexes and then the mempool read each new block; treat the result as read-only."""
    count, i = _compact(raw, 80)
    txs = []
    for _ in range(count):
        tx, i = _parse_tx(raw, i)
        txs.append(tx)
    return hash256(raw[:80]), txs


class Chainstate:
    """The kernel's chainstate manager with UTXO and transaction indexes kept in step.

    Not thread-safe on its own: the engine serialises access with one lock.
    """

    def __init__(self, datadir: Path) -> None:
        self.datadir = Path(datadir)
        self._events: list[tuple[str, bytes, int]] = []
        self._checked: list[tuple[str, str]] = []
        # The bytes of the block being processed: the connect event takes them from here rather
        # than re-serializing the kernel's block (pbk's writer calls back into Python per field).
        self._submitted: tuple[bytes, bytes] | None = None
        self._callbacks = pbk.ValidationInterfaceCallbacks(
            block_connected=lambda _u, block, entry: self._events.append(
                ("connect", self._raw_of(block), entry.height)
            ),
            block_disconnected=lambda _u, block, entry: self._events.append(
                ("disconnect", bytes(block), entry.height)
            ),
            block_checked=lambda _u, _block, state: self._checked.append(
                (state.validation_mode.name, state.block_validation_result.name)
            ),
        )
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._chainman: pbk.ChainstateManager | None = self._load_chainman()
        self.utxos: dict[Outpoint, Coin] = {}
        self.txindex: dict[bytes, tuple[bytes, int]] = {}  # txid -> (blockhash, position)
        self.undo: dict[bytes, list[tuple[Outpoint, Coin]]] = {}  # blockhash -> spent coins
        self.blocks: dict[bytes, BlockInfo] = {}  # active chain, by hash
        self.by_height: list[bytes] = []
        self.known_invalid: set[bytes] = set()
        # Every block the kernel stored while we ran: hash -> (previous hash, height), and which of
        # them were ever connected; getchaintips reads its side branches from these.
        self.known: dict[bytes, tuple[bytes, int]] = {}
        self.validated: set[bytes] = set()
        # Blocks invalidateblock took out of the rebuilt kernel (hash -> raw), for reconsiderblock.
        self.set_aside: dict[bytes, bytes] = {}
        self._replay()

    # -- lifecycle -------------------------------------------------------

    def _load_chainman(self, wipe: bool = False) -> pbk.ChainstateManager:
        """``pbk.load_chainman`` with Core's script-check threads (``-par``: one per core beyond
        the first) and, with ``wipe``, the block index and chainstate databases wiped."""
        context = pbk.make_context(pbk.ChainType.REGTEST, validation_callbacks=self._callbacks)
        datadir = self.datadir.absolute()
        options = pbk.ChainstateManagerOptions(context, str(datadir), str(datadir / "blocks"))
        options.set_worker_threads_num(max(0, min(SCRIPT_CHECK_THREADS, (os.cpu_count() or 1) - 1)))
        if wipe:
            options.set_wipe_dbs(True, True)
        return pbk.ChainstateManager(options)

    def _raw_of(self, block: pbk.Block) -> bytes:
        submitted = self._submitted
        if submitted is not None and bytes(block.block_hash) == submitted[0]:
            return submitted[1]
        return bytes(block)

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

    def median_time_past_known(self, block_hash: bytes) -> int:
        """Median-time-past at a block off the active chain: one the kernel holds, or one set aside
        by invalidateblock (its ancestors read from the set-aside blocks and the active chain)."""
        entry = self.entry(block_hash)
        if entry is not None:
            return self.median_time_past_of(entry)
        times = []
        cursor = block_hash
        for _ in range(11):
            if cursor in self.blocks:
                info = self.blocks[cursor]
                times.append(info.time)
                if info.height == 0:
                    break
                cursor = self.by_height[info.height - 1]
            elif cursor in self.set_aside:
                raw = self.set_aside[cursor]
                times.append(int.from_bytes(raw[68:72], "little"))
                cursor = raw[4:36]
            else:
                break
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
            return self.set_aside.get(block_hash)
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
        block_hash = hash256(raw[:80])
        if block_hash in self.known_invalid:
            return "duplicate-invalid"
        if raw[4:36] in self.known_invalid:
            return "bad-prevblk"
        already = self.entry(block_hash) is not None and self.read_block(block_hash) is not None
        self._events.clear()
        self._checked.clear()
        self._submitted = (block_hash, raw)
        try:
            is_new = self.chainman.process_block(kernel_block(raw))
        except pbk.ProcessBlockException:
            is_new = False
        finally:
            self._submitted = None
        if block_hash not in self.known and self.entry(block_hash) is not None:
            self.known[block_hash] = (raw[4:36], self.chainman.block_tree_entries[pbk.BlockHash(block_hash)].height)
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

    # -- invalidateblock / reconsiderblock -------------------------------------

    def descendants_of(self, block_hash: bytes) -> set[bytes]:
        """``block_hash`` and every known block built on it."""
        out = {block_hash}
        changed = True
        while changed:
            changed = False
            for h, (prev, _height) in self.known.items():
                if prev in out and h not in out:
                    out.add(h)
                    changed = True
        return out

    def invalidate(self, block_hash: bytes, on_change: Callable[[list[bytes], list[bytes]], None]) -> None:
        """Core's invalidateblock. The kernel has no call for it, so the chainstate is rebuilt: every
        known block is read, the kernel's block index and chainstate are deleted, and the blocks not
        built on ``block_hash`` are given to a fresh kernel again (the most-work valid chain wins, as
        in Core). ``block_hash`` and its descendants are refused until :meth:`reconsider`."""
        bad = self.descendants_of(block_hash)
        self.known_invalid |= bad
        if not bad & (set(self.blocks) | {h for h in self.known if self.entry(h) is not None}):
            return  # nothing the kernel holds changes
        self._rebuild(on_change)

    def reconsider(self, block_hash: bytes, on_change: Callable[[list[bytes], list[bytes]], None]) -> None:
        """Core's reconsiderblock: ``block_hash``, its descendants and ancestors are valid again;
        the blocks set aside are given back to the kernel (which activates the most-work chain)."""
        cleared = self.descendants_of(block_hash)
        cursor = block_hash
        while cursor in self.known:
            cleared.add(cursor)
            cursor = self.known[cursor][0]
        self.known_invalid -= cleared
        back = sorted((h for h in self.set_aside if h in cleared), key=lambda h: self.known[h][1])
        for h in back:
            self.process_block(self.set_aside.pop(h), on_change)

    def _rebuild(self, on_change: Callable[[list[bytes], list[bytes]], None]) -> None:
        old_chain = list(self.by_height)
        raws: dict[bytes, bytes] = dict(self.set_aside)
        for h in list(self.known) + old_chain[1:]:
            if h not in raws:
                raw = self.read_block(h)
                if raw is not None:
                    raws[h] = raw
        old_raws = {h: raws[h] for h in old_chain[1:]}
        self.close()
        for sub in ("blocks", "chainstate"):
            shutil.rmtree(self.datadir / sub, ignore_errors=True)
        self._chainman = self._load_chainman()
        self.utxos.clear()
        self.txindex.clear()
        self.undo.clear()
        self.blocks.clear()
        self.by_height.clear()
        self._replay()
        self.set_aside = {h: raw for h, raw in raws.items() if h in self.known_invalid}
        order = sorted((h for h in raws if h not in self.known_invalid), key=lambda h: self.known[h][1])
        for h in order:
            self.process_block(raws[h], lambda _d, _c: None)
        new_chain = set(self.by_height)
        disconnected = [old_raws[h] for h in reversed(old_chain[1:]) if h not in new_chain]
        connected = [raws[h] for h in self.by_height[1:] if h not in set(old_chain)]
        if disconnected or connected:
            on_change(disconnected, connected)

    def _connect(self, raw: bytes, height: int) -> None:
        block_hash, txs = parse_block(raw)
        spent: list[tuple[Outpoint, Coin]] = []
        txids = []
        utxos = self.utxos
        for pos, tx in enumerate(txs):
            txid = tx.txid
            txids.append(txid)
            coinbase = pos == 0
            if not coinbase:
                for op in tx.prevouts:
                    coin = utxos.pop(op, None)
                    if coin is not None:
                        spent.append((op, coin))
            if height:  # the genesis coinbase is never spendable
                for n, (value, spk) in enumerate(tx.outputs):
                    if spk[:1] != b"\x6a":  # nor are OP_RETURN outputs
                        utxos[(txid, n)] = Coin(value, spk, height, coinbase)
            self.txindex[txid] = (block_hash, pos)
        self.undo[block_hash] = spent
        self.known[block_hash] = (raw[4:36], height)
        self.validated.add(block_hash)
        self.blocks[block_hash] = BlockInfo(block_hash, height, raw[:80],
                                            int.from_bytes(raw[68:72], "little"), txids)
        if height != len(self.by_height):
            raise RuntimeError(f"connect at height {height} but tip is {self.height}")
        self.by_height.append(block_hash)

    def _disconnect(self, raw: bytes, height: int) -> None:
        block_hash, txs = parse_block(raw)
        if self.by_height[-1] != block_hash:
            raise RuntimeError("disconnect of a block that is not the tip")
        for tx in txs:
            txid = tx.txid
            for n in range(len(tx.outputs)):
                self.utxos.pop((txid, n), None)
            if self.txindex.get(txid, (None,))[0] == block_hash:
                del self.txindex[txid]
        for op, coin in self.undo.pop(block_hash, []):
            self.utxos[op] = coin
        del self.blocks[block_hash]
        self.by_height.pop()

    def tips(self) -> list[tuple[bytes, int, int, str]]:
        """Core's getchaintips: (hash, height, branch length, status) for the active tip and every
        known block no known block builds on, highest first."""
        children = {prev for prev, _ in self.known.values()}
        out = [(self.tip.hash, self.height, 0, "active")]
        for block_hash, (_prev, height) in self.known.items():
            if block_hash in children or block_hash in self.blocks:
                continue
            branch = [block_hash]
            cursor = self.known[block_hash][0]
            while cursor not in self.blocks and cursor in self.known:
                branch.append(cursor)
                cursor = self.known[cursor][0]
            if any(b in self.known_invalid for b in branch):
                status = "invalid"
            elif all(b in self.validated for b in branch):
                status = "valid-fork"
            else:
                status = "valid-headers"
            out.append((block_hash, height, len(branch), status))
        out.sort(key=lambda tip: -tip[1])
        return out

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
