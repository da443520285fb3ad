"""A durable record of the blocks the engine connected, replayed after a crash.

libbitcoinkernel keeps its block index and UTXO set in memory and writes them to disk only when
the chainstate manager is destroyed (its C API has no flush call), so an engine killed with
SIGKILL used to come back at the height of its last clean stop, often 0. The engine therefore
appends the raw bytes of every block the kernel connects to ``<chaindir>/btcmicro-blocks.dat``
and fsyncs the file before the RPC call that connected them returns (one fsync per call, not per
block: ``generatetoaddress 1000`` costs one). On start, blocks of the record that are not on the
chain the kernel loaded from disk are given to the kernel again, in the order they were first
connected, so the active chain (reorgs included) comes back as it was.

Format: a sequence of entries ``length (u32 LE) || crc32 (u32 LE) || raw block``. A torn or
corrupt tail (the process died in the middle of an append) ends the record; it is cut off.

The record holds only what the kernel may not have on disk: on start it is rewritten with the
blocks that had to be replayed (those that were on the chain the kernel loaded are durable in the
kernel already), so it does not grow across clean restarts.
"""
from __future__ import annotations

import contextlib
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from btcmicro.core.hashes import hash256

__all__ = ["BlockStore", "RECORD_FILE", "read_record"]

RECORD_FILE = "btcmicro-blocks.dat"
_ENTRY = struct.Struct("<II")
_MAX_BLOCK = 4_000_000 * 4  # far above any block's serialized size: a length beyond it is corruption

ChainChange = Callable[[list[bytes], list[bytes]], None]


class _Chain(Protocol):
    @property
    def blocks(self) -> Mapping[bytes, object]: ...

    @property
    def by_height(self) -> Sequence[bytes]: ...

    def process_block(self, raw: bytes, on_change: ChainChange) -> str | None: ...

    def read_block(self, block_hash: bytes) -> bytes | None: ...


def read_record(path: Path) -> tuple[list[bytes], int]:
    """The blocks of a record file and the length of its intact prefix (bytes)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    return list(_entries(data)), _intact_length(data)


def _walk(data: bytes) -> Iterator[tuple[bytes, int]]:
    pos = 0
    while pos + _ENTRY.size <= len(data):
        length, crc = _ENTRY.unpack_from(data, pos)
        end = pos + _ENTRY.size + length
        if length < 80 or length > _MAX_BLOCK or end > len(data):
            return
        raw = data[pos + _ENTRY.size:end]
        if zlib.crc32(raw) != crc:
            return
        yield raw, end
        pos = end


def _entries(data: bytes) -> Iterator[bytes]:
    for raw, _end in _walk(data):
        yield raw


def _intact_length(data: bytes) -> int:
    length = 0
    for _raw, end in _walk(data):
        length = end
    return length


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlockStore:
    """Append-only, fsync'd record of connected blocks (see the module docstring).

    ``append`` writes (the bytes survive the death of the process from then on); ``sync``
    fsyncs once for everything appended since the last sync (the bytes survive the machine's).
    Thread-safe.
    """

    def __init__(self, datadir: Path | str, *, fsync: bool = True) -> None:
        self.path = Path(datadir) / RECORD_FILE
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._dirty = False
        self.replayed = 0  # blocks given back to the kernel on the last recover()

    # -- start-up ------------------------------------------------------------------

    def recover(self, chain: _Chain) -> int:
        """Give the kernel every recorded block that is not on its active chain; compact the record.

        Returns how many blocks were replayed. Call once, before any block is appended.
        """
        blocks, _ = read_record(self.path)
        keep: list[bytes] = []
        for raw in blocks:
            if hash256(raw[:80]) in chain.blocks:
                continue  # on the chain the kernel loaded from its own files: durable there
            chain.process_block(raw, _ignore)
            keep.append(raw)
        self.replayed = len(keep)
        self._rewrite(keep)
        return self.replayed

    def record_chain(self, chain: _Chain) -> None:
        """The record becomes the whole active chain, fsync'd: for after the kernel's own files were
        deleted and rebuilt in memory (the engine's ``invalidateblock``), when nothing of the chain
        is durable in the kernel any more."""
        blocks = [chain.read_block(h) for h in chain.by_height[1:]]
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._rewrite([raw for raw in blocks if raw is not None])
            self._dirty = False

    def _rewrite(self, blocks: list[bytes]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            for raw in blocks:
                f.write(_ENTRY.pack(len(raw), zlib.crc32(raw)) + raw)
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        os.replace(tmp, self.path)
        if self.fsync:
            _fsync_dir(self.path.parent)

    # -- running ---------------------------------------------------------------------

    def recording(self, on_change: ChainChange) -> ChainChange:
        """``on_change`` that first appends the connected blocks to the record."""
        def changed(disconnected: list[bytes], connected: list[bytes]) -> None:
            if connected:
                self.append(connected)
            on_change(disconnected, connected)
        return changed

    def append(self, blocks: list[bytes]) -> None:
        data = b"".join(_ENTRY.pack(len(raw), zlib.crc32(raw)) + raw for raw in blocks)
        with self._lock:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            self._dirty = True

    def sync(self) -> None:
        """fsync what was appended since the last sync (nothing to do when nothing was)."""
        with self._lock:
            if self._dirty and self._fd is not None:
                if self.fsync:
                    os.fsync(self._fd)
                self._dirty = False

    def close(self) -> None:
        self.sync()
        with self._lock:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None


def _ignore(_disconnected: list[bytes], _connected: list[bytes]) -> None:
    return None
