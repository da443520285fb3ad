"""The Das–Tripathi parties import ports, never adapters (the walk of tests/micropay2), and the
package imports no other scheme."""
from __future__ import annotations

import pytest

from tests.micropay2.test_party_imports import FORBIDDEN, _chain, closure

PARTIES = [f"btcmicro.channels.dastripathi.{m}" for m in ("payer", "merchant", "collector", "microcoins", "contract",
                                                          "messages", "states", "stores", "templates")]


@pytest.mark.parametrize("party", PARTIES)
def test_party_imports_no_adapter_and_no_other_scheme(party: str) -> None:
    seen = closure(party)
    bad = sorted(FORBIDDEN & set(seen))
    assert not bad, "; ".join(_chain(seen, b) for b in bad)
    others = sorted(m for m in seen if m.startswith(("btcmicro.lottery", "btcmicro.channels.bitcoinj")))
    assert not others, "; ".join(_chain(seen, m) for m in others)


def test_the_adapters_are_where_they_are() -> None:
    assert "sqlite3" in closure("btcmicro.channels.dastripathi.sqlite")
    assert "httpx" in closure("btcmicro.service.dastripathi")
