"""Node-free: the tariff, the meter's accounting and stalls, the session's state table."""
from __future__ import annotations

import pytest

from btcmicro.channels.bitcoinj.metered import METER_TRANSITIONS, Meter, MeterSession, MeterState, Tariff
from btcmicro.core.errors import ConfigError, ProtocolError


def test_tariff():
    t = Tariff()
    assert (t.price, t.increment_bytes, t.increment_sats) == (10_000, 1_000_000, 10_000)
    assert t.allotment(10_000) == 1_000_000 and t.allotment(15_000) == 1_500_000
    assert Tariff(2_000, 500_000).increment_sats == 1_000
    for bad in ((0, 1_000_000), (3, 1)):
        with pytest.raises(ConfigError):
            Tariff(*bad)


def test_meter_grants_only_the_allotment_and_never_lowers_it():
    heard: list[str] = []
    m = Meter(Tariff())
    m.subscribe(heard.append)
    assert m.take("t", 10) == -1  # not metered
    m.open("t", 100_000, 10_000)
    assert m.take("t", 600_000) == 600_000 and m.take("t", 600_000) == 400_000 and m.take("t", 1) == 0
    m.stalled("t", +1)
    assert m.usage("t").waiting == 1 and m.usage("t").left_bytes == 0
    assert m.paid("t", 20_000, 2).allotment_bytes == 2_000_000 and heard == ["t"]
    assert m.paid("t", 10_000, 1).allotment_bytes == 2_000_000  # a stale figure changes nothing
    assert m.take("t", 5) == 5
    assert not m.out_of_funds("t")
    m.paid("t", 95_000, 3)
    m.take("t", 10 ** 9)
    assert m.out_of_funds("t")  # used up, and 5,000 sats cannot buy 1 MB
    m.close("t")
    assert m.take("t", 1) == -1 and heard[-1] == "t"


class _Nothing:
    def __getattr__(self, name):
        raise AssertionError(f"unexpected call {name}")


def test_state_table_refuses_what_it_does_not_list_and_changes_nothing():
    for state, row in METER_TRANSITIONS.items():
        for event in {e for r in METER_TRANSITIONS.values() for e in r}:
            s = MeterSession(_Nothing(), _Nothing(), _Nothing(), lambda k, w: _Nothing())  # type: ignore[arg-type]
            s.state = state
            if event in row:
                assert s.event(event) is row[event]
            else:
                with pytest.raises(ProtocolError):
                    s.event(event)
                assert s.state is state and len(s.steps) == 1
    assert MeterState.OPEN in METER_TRANSITIONS[MeterState.DEPOSIT_BROADCAST].values()
