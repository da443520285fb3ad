"""The MICROPAY3 payer's and merchant's transition tables walked pair by pair on FakeChain: every
allowed pair moves to the table's next state; every other raises ProtocolError and changes nothing."""
from __future__ import annotations

from typing import Any

import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.micropay3 import (
    MERCHANT_TRANSITIONS,
    PAYER_TRANSITIONS,
    EscrowRecord,
    EscrowStatus,
    MerchantEvent,
    PayerEvent,
    WinStatus,
)

from .fakes import World

TXID = "ee" * 32


def _payer_kw(event: PayerEvent) -> dict[str, Any]:
    kw: dict[PayerEvent, dict[str, Any]] = {
            PayerEvent.BROADCAST: {"txid": TXID, "vout": 0}, PayerEvent.TICKET: {"merchant": b"M" * 32},
            PayerEvent.CONFIRMED: {"height": 150}, PayerEvent.SPENT: {"spent_txid": TXID},
            PayerEvent.ORPHAN_REFUND: {"spent_txid": TXID}}
    return kw.get(event, {})


@pytest.mark.parametrize(("state", "event", "expected"), list(PAYER_TRANSITIONS.pairs()),
                         ids=lambda v: getattr(v, "value", str(v)))
def test_payer_table(state: EscrowStatus, event: PayerEvent, expected: EscrowStatus | None) -> None:
    w = World(n=0)
    store = w.payer.store
    store.add_escrows([EscrowRecord(0, 5_000, TXID if state != EscrowStatus.FUNDING else None,
                                    0 if state != EscrowStatus.FUNDING else None, state, None, 0, None, None)])
    before = store.escrows()
    if expected is None:
        with pytest.raises(ProtocolError, match="UNEXPECTED_EVENT"):
            w.payer.handle(0, event, **_payer_kw(event))
        assert store.escrows() == before
    else:
        w.payer.handle(0, event, **_payer_kw(event))
        rec = store.escrow(0)
        assert rec is not None and rec.status == expected


def _merchant_kw(event: MerchantEvent) -> dict[str, Any]:
    kw: dict[MerchantEvent, dict[str, Any]] = {
            MerchantEvent.TX1_BROADCAST: {"tx1": "00"}, MerchantEvent.PAYER_SIGNED: {"path": "claim", "cosig": b"s"},
            MerchantEvent.VTS_SIGNED: {"path": "resolve_aborted_prize", "cosig": b"s"},
            MerchantEvent.BROADCAST: {"claim_txid": TXID}}
    return kw.get(event, {"detail": "why"})


@pytest.mark.parametrize(("state", "event", "expected"), list(MERCHANT_TRANSITIONS.pairs()),
                         ids=lambda v: getattr(v, "value", str(v)))
def test_merchant_table(state: WinStatus, event: MerchantEvent, expected: WinStatus | None) -> None:
    w = World(n=1)
    acc = w.merchant.check(w.winning_ticket())
    w.merchant.store.update_win(acc.c, state)
    before = w.merchant.store.win(acc.c)
    if expected is None:
        with pytest.raises(ProtocolError, match="UNEXPECTED_EVENT"):
            w.merchant.handle(acc.c, event, **_merchant_kw(event))
        assert w.merchant.store.win(acc.c) == before
    else:
        assert w.merchant.handle(acc.c, event, **_merchant_kw(event)).status == expected


def test_tables_use_every_member_and_store_their_string_values() -> None:
    for table in (PAYER_TRANSITIONS, MERCHANT_TRANSITIONS):
        pairs = list(table.pairs())
        assert len(pairs) == len(table.states) * len(table.events)
        assert all(s == s.value for s in table.states)
