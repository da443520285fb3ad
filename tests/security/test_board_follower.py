"""The merchant's view of a VTS board (item 2), without a node: incremental and checked, stale by at
most ``max_age``, and fail-closed when the board is rewritten, forged or unreadable."""
from __future__ import annotations

from typing import Any

import pytest

from btcmicro.core.errors import ProtocolError, ServiceUnavailable
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.vts import BoardEntry, BoardFollower, make_entry
from tests.micropay2.fakes import World
from tests.micropay2.test_vts import witnesses


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_follower_sees_claims_within_its_staleness_bound() -> None:
    w = World(n=3, k=1, value=1_000_000)
    clock = Clock()
    f = BoardFollower(w.vts.board, w.vts.pubkey, max_age=5.0, clock=clock)
    f.sync_if_stale()
    (x,) = witnesses(w, 1, escrow=0)
    w.vts.claim(x)
    f.sync_if_stale()  # fresh enough: not read again yet
    assert f.claimed(*x.outpoint) is None
    clock.t = 5.0  # the bound reached: read again
    f.sync_if_stale()
    assert f.claimed(*x.outpoint) == 0 and f.seen == 1
    w.merchant.follow([BoardFollower(w.vts.board, w.vts.pubkey)])  # max_age 0: every batch
    t = w.payer.sign_ticket(w.escrows[0], w.merchant.request(), w.escrows[0].value - 1_000)
    with pytest.raises(ProtocolError) as ei:
        w.merchant.check(t)
    assert ei.value.code == "ESCROW_CLAIMED" and "board entry 0" in ei.value.detail
    assert w.merchant.store.count() == (0, 0)


class Rewritten:
    """A VTS that rewrites its board after a reader saw it."""

    def __init__(self, entries: list[BoardEntry[Any]]) -> None:
        self.log = entries

    def head(self) -> tuple[int, bytes]:
        return len(self.log), self.log[-1].hash if self.log else bytes(32)

    def entries(self, start: int = 0, stop: int | None = None) -> list[BoardEntry[Any]]:
        return self.log[start:stop]


def test_follower_refuses_a_rewritten_or_forged_board() -> None:
    w = World(n=3, k=1, value=1_000_000)
    xs = [witnesses(w, 1, escrow=i)[0] for i in range(2)]
    for x in xs:
        w.vts.claim(x)
    board = Rewritten(w.vts.board.entries())
    f = BoardFollower(board, w.vts.pubkey)
    f.sync()
    assert f.seen == 2
    # the VTS drops its last entry and publishes another in its place: the head no longer extends the log
    other = witnesses(w, 1, escrow=2)[0]
    board.log = board.log[:1] + [make_entry(w.vts.key, 1, board.log[0].hash, other, w.vts.key.sign(
        other.claim_sighash()))]
    with pytest.raises(ServiceUnavailable, match="rewritten"):
        f.sync()
    # entries signed by another key are refused
    forged = Rewritten([make_entry(PrivateKey(b"\x09" * 32), 0, bytes(32), xs[0], b"\x30")])
    with pytest.raises(ServiceUnavailable):
        BoardFollower(forged, w.vts.pubkey).sync()
