"""MICROPAY1's parties import ports only (no sqlite3, no httpx, no other scheme); every (state, event)
pair of both transition tables: allowed ones move, absent ones raise and change nothing."""
from __future__ import annotations

import pytest

import btcmicro.lottery.micropay1 as mp1
from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.micropay1 import MERCHANT, PAYER
from tests.micropay2.test_party_imports import _chain, closure

MODULES = ["btcmicro.lottery.micropay1.parties", "btcmicro.lottery.micropay1.predicate",
           "btcmicro.lottery.micropay1.templates", "btcmicro.lottery.micropay1.messages"]


@pytest.mark.parametrize("module", MODULES)
def test_parties_import_no_adapter_and_no_other_scheme(module: str) -> None:
    seen = closure(module)
    bad = sorted({"sqlite3", "httpx"} & set(seen))
    bad += sorted(m for m in seen if m.startswith(("btcmicro.lottery.micropay2", "btcmicro.lottery.micropay3",
                                                   "btcmicro.lottery.vuf", "btcmicro.channels")))
    assert not bad, "; ".join(_chain(seen, b) for b in bad)


def test_public_surface() -> None:
    assert all(hasattr(mp1, name) for name in mp1.__all__)


@pytest.mark.parametrize("table", [MERCHANT, PAYER], ids=["merchant", "payer"])
def test_every_state_event_pair(table: object) -> None:
    from btcmicro.lottery.common import Transitions
    assert isinstance(table, Transitions)
    allowed = 0
    for state, event, nxt in table.pairs():
        if nxt is None:
            with pytest.raises(ProtocolError, match="UNEXPECTED_EVENT"):
                table.step(state, event)
        else:
            assert table.next_state(state, event) == nxt
            allowed += 1
    assert allowed == 3
