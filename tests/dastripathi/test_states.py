"""Every (state, event) pair of every party's table (payer, merchant, microcoin receiver): allowed
ones move, the others raise and change nothing."""
from __future__ import annotations

import pytest

from btcmicro.channels.dastripathi import (
    COIN_TRANSITIONS,
    MERCHANT_TRANSITIONS,
    PAYER_TRANSITIONS,
    CoinStatus,
    MerchantStatus,
    PayerStatus,
)
from btcmicro.core.errors import ProtocolError

PAIRS = [(t, s, e, n) for t in (PAYER_TRANSITIONS, MERCHANT_TRANSITIONS, COIN_TRANSITIONS) for s, e, n in t.pairs()]


@pytest.mark.parametrize("table,state,event,nxt", PAIRS, ids=lambda x: getattr(x, "value", None))
def test_pair(table, state, event, nxt):
    if nxt is None:
        with pytest.raises(ProtocolError) as e:
            table.step(state, event)
        assert e.value.code == "UNEXPECTED_EVENT"
        assert not table.allowed(state, event)
    else:
        assert table.step(state, event) is nxt and table.allowed(state, event)


def test_terminal_states_take_nothing():
    for s in (PayerStatus.CLOSED, PayerStatus.REFUNDED):
        assert not PAYER_TRANSITIONS.table[s]
    for m in (MerchantStatus.CLOSED, MerchantStatus.REFUNDED):
        assert not MERCHANT_TRANSITIONS.table[m]
    assert not COIN_TRANSITIONS.table[CoinStatus.EXPOSED]
