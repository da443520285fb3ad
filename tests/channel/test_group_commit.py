"""The server store's group commit: payments of concurrent channels share one transaction (one fsync),
each is still its own compare-and-set, and each caller returns only once its payment is committed."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from btcmicro.channels.bitcoinj import ServerChannel, ServerStatus, SQLiteServerStore


def _channel(n: int) -> ServerChannel:
    return ServerChannel(
        deposit_txid=f"{n:064x}", version=3, status=ServerStatus.OPEN, client_key=b"\x02" * 33,
        server_key=b"\x03" * 33, expiry=500, deposit_vout=0, value=100_000, deposit_hex=b"\x01\x00",
        client_spk=b"\x00\x14" + b"\x11" * 20, min_payment=1_000, created_at=1_000 + n,
        server_spk=b"\x00\x14" + b"\x22" * 20, best_change=99_000, best_signature=b"\x30" * 71)


def test_payments_waiting_behind_a_commit_share_the_next_one(tmp_path: Path) -> None:
    store = SQLiteServerStore(tmp_path / "server.db", passphrase="server secret")
    n = 8
    for i in range(n):
        store.add_channel(_channel(i))
    store.add_channel(replace(_channel(99), status=ServerStatus.CLOSING))
    transactions = []
    inner = store.transaction

    @contextmanager
    def counted():  # type: ignore[no-untyped-def]
        with inner() as db:
            transactions.append(1)
            yield db

    store.transaction = counted  # type: ignore[method-assign]  # counts the batches
    results: dict[int, bool] = {}

    def pay(i: int) -> None:
        txid = f"{(99 if i == n else i):064x}"
        results[i] = store.record_payment(txid, 99_000, 98_000 - i, b"\x30" * 70)

    with store._lock:  # the disk is busy: the first caller waits inside its commit, the others queue
        threads = [threading.Thread(target=pay, args=(i,)) for i in range(n + 1)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(store._payments._waiting) < n and time.monotonic() < deadline:  # all but the committing one
            time.sleep(0.001)
        assert len(store._payments._waiting) == n
        assert not results  # nobody has an answer before the commit
    for t in threads:
        t.join()
    assert len(transactions) == 2  # one for the first payment, one for the eight that waited behind it
    assert results == {**{i: True for i in range(n)}, n: False}  # the closed channel's payment is refused
    for i in range(n):
        got = store.channel(f"{i:064x}")
        assert got is not None and (got.best_change, got.payments) == (98_000 - i, 2)
    store.close()
