"""The three MICROPAY3 release paths and the parties' refusals on FakeChain (bookkeeping only: the
node judges every script in test_session.py)."""
from __future__ import annotations

import dataclasses

import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.micropay3 import (
    EscrowRecord,
    EscrowStatus,
    Micropay3Escrow,
    Prize,
    PrizeRefused,
    PrizeSigner,
    WinRecord,
    WinStatus,
)
from btcmicro.lottery.vts import AlreadyClaimed

from .fakes import World


def _win(w: World, c: bytes) -> WinRecord:
    rec = w.merchant.store.win(c)
    assert rec is not None
    return rec


def _esc(w: World, index: int) -> EscrowRecord:
    rec = w.payer.store.escrow(index)
    assert rec is not None
    return rec


def _won(w: World) -> bytes:
    acc = w.merchant.check(w.winning_ticket())
    assert acc.won
    w.merchant.broadcast_tx1(acc.c)
    w.chain.mine()
    return acc.c


def test_happy_path_never_calls_the_vts() -> None:
    w = World()
    c = _won(w)
    txid = w.merchant.claim_with_payer(c, w.payer)
    assert _win(w, c).status == WinStatus.BROADCAST and _win(w, c).claim_txid == txid
    assert w.vts.calls == 0 and len(w.vts.board) == 0
    assert w.payer.escrows(EscrowStatus.RELEASED)


def test_abort_path_receipt_and_board_entry() -> None:
    w = World()
    c = _won(w)
    x = w.merchant.prize(c)
    w.merchant.resolve_aborted(c, w.vts)
    rec = _win(w, c)
    assert rec.status == WinStatus.BROADCAST and rec.path == "resolve_aborted_prize"
    assert rec.receipt is not None and rec.receipt.valid() and rec.receipt.outpoint == x.outpoint
    assert rec.receipt.confirmations == 1 and rec.receipt.height == w.chain.tip
    (entry,) = w.vts.board.entries()
    assert entry.x.body.encode() == x.encode() and entry.x.height == w.chain.tip
    # the same x again, a block later: the published entry and the first receipt; nothing new written
    w.chain.mine()
    again, receipt = w.vts.resolve_aborted_prize(x)
    assert again == entry and receipt == rec.receipt and len(w.vts.receipts()) == 1


def test_vts_refuses_losing_and_forged_claims_and_records_nothing() -> None:
    w = World()
    t = w.losing_ticket()
    w.merchant.check(t)
    tx1 = t.tx1().serialize()
    losing = Prize(t, w.merchant.r1(t), tx1)
    forged = Prize(t, b"\x00" * 16, tx1)
    other_tx = Prize(t, w.merchant.r1(t), w.winning_ticket().tx1().serialize())
    for x, code in ((losing, "LOSING_TICKET"), (forged, "BAD_OPENING"), (other_tx, "BAD_TX1")):
        with pytest.raises(ProtocolError, match=code):
            w.vts.resolve_aborted_prize(x)
    with pytest.raises(ProtocolError, match="TRAILING_BYTES"):
        w.vts.resolve_aborted_prize(losing.encode() + b"\x00")
    assert len(w.vts.board) == 0 and w.vts.receipts() == []


def test_orphan_path_waits_for_the_window() -> None:
    w = World(window=3)
    t = w.losing_ticket()
    w.merchant.check(t)
    w.chain.broadcast(t.tx1().serialize().hex())  # the losing merchant orphans escrow 1
    w.chain.mine()
    ((rec, _),) = w.payer.orphaned()
    with pytest.raises(ProtocolError, match="ORPHAN_WINDOW_OPEN"):
        w.payer.resolve_orphan(rec.index, w.vts)
    assert len(w.vts.board) == 0 and _esc(w, rec.index).status == EscrowStatus.SPENT
    w.chain.mine(2)
    w.payer.resolve_orphan(rec.index, w.vts)
    assert _esc(w, rec.index).status == EscrowStatus.REFUNDING
    (entry,) = w.vts.board.entries()
    assert entry.x.kind_name == "orphan" and entry.x.confirmations == 3 and not entry.x.problems()


def test_orphan_request_must_be_signed_by_the_payer_key() -> None:
    w = World(window=1)
    t = w.losing_ticket()
    w.chain.broadcast(t.tx1().serialize().hex())
    w.chain.mine()
    ((rec, _),) = w.payer.orphaned()
    req, _ = w.payer.orphan_request(rec)
    # the merchant (or anyone) names its own destination: refused (it could then spend with M+T)
    forged = dataclasses.replace(req, a_u=t.a_m)
    with pytest.raises(ProtocolError, match="BAD_ORPHAN_SIGNATURE"):
        w.vts.resolve_orphaned(forged)
    assert len(w.vts.board) == 0


def test_a_receipted_claim_blocks_the_refund_and_a_refund_blocks_a_later_claim() -> None:
    w = World(window=2)
    c = _won(w)
    w.merchant.resolve_aborted(c, w.vts)
    w.chain.mine(3)
    assert w.payer.orphaned() == []  # escrow 2 is spent: not an orphan
    (rec,) = w.payer.escrows(EscrowStatus.SPENT)
    with pytest.raises(AlreadyClaimed):  # and a payer asking anyway is refused by T
        w.payer.resolve_orphan(rec.index, w.vts)

    w2 = World(window=2)
    c2 = _won(w2)
    w2.chain.mine(2)
    ((rec2, _),) = w2.payer.orphaned()
    w2.payer.resolve_orphan(rec2.index, w2.vts)
    with pytest.raises(PrizeRefused) as e:
        w2.merchant.resolve_aborted(c2, w2.vts)
    assert e.value.receipt.confirmations == 3 and _win(w2, c2).status == WinStatus.LOST


def test_payer_refuses_sigma2_before_tx1_confirms_and_for_foreign_tickets() -> None:
    w = World()
    acc = w.merchant.check(w.winning_ticket())
    w.merchant.broadcast_tx1(acc.c)
    x = w.merchant.prize(acc.c)
    with pytest.raises(ProtocolError, match="TX1_UNCONFIRMED"):
        w.payer.release(x)
    other = World()
    with pytest.raises(ProtocolError, match="UNKNOWN_TICKET"):
        other.payer.release(x)


def test_merchant_refuses_replays_and_wrong_keys() -> None:
    w = World()
    t = w.ticket()
    w.merchant.check(t)
    with pytest.raises(ProtocolError, match="REPLAYED"):
        w.merchant.check(t)
    req = w.merchant.request()
    rec = w.payer.store.escrows(EscrowStatus.LIVE)[0]
    swapped = w.payer.sign_ticket(w.payer.escrow_ref(rec), rec.index, 99, req,
                                  escrow2=_swap(w.payer.ticket_key(rec.index, 99).pubkey, req.pk_m, req.pk_t))
    with pytest.raises(ProtocolError, match="ESCROW2_WRONG_KEYS"):
        w.merchant.check(swapped)
    assert w.merchant.store.count()[0] == 1


def _swap(pk2: bytes, pk_m: bytes, pk_t: bytes) -> bytes:
    return Micropay3Escrow(pk_m, pk2, pk_t).script


class _Silent:
    """A payer that withholds σ2."""

    def release(self, x: Prize | bytes) -> bytes:
        raise TimeoutError("no answer")


class _Liar:
    """A payer that answers with a signature on something else."""

    def release(self, x: Prize | bytes) -> bytes:
        return bytes.fromhex("3006020101020101") + b"\x01"


@pytest.mark.parametrize("payer", ["honest", "silent", "liar"])
def test_release_policy_asks_the_payer_first_then_the_vts(payer: str) -> None:
    w = World()
    c = _won(w)
    signers: dict[str, PrizeSigner] = {"honest": w.payer, "silent": _Silent(), "liar": _Liar()}
    signer = signers[payer]
    w.merchant.release_prize(c, signer, w.vts)
    rec = _win(w, c)
    assert rec.status == WinStatus.BROADCAST
    assert rec.path == ("claim" if payer == "honest" else "resolve_aborted_prize")
    assert w.vts.calls == (0 if payer == "honest" else 1)
