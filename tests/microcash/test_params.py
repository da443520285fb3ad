"""Parameters, schedule and Eq. 2's penalty bound (SCHEMES.md §5.1, §5.6)."""
from __future__ import annotations

from fractions import Fraction

import pytest

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.params import (
    Params,
    eq2_rho,
    figure3_table,
    min_penalty,
    penalty_bound,
    theorem1_rho,
)
from tests.microcash.conftest import keys, small_params

KEYS = [PrivateKey.from_bytes((i + 1).to_bytes(32, "big")).pubkey for i in range(6)]

# SCHEMES.md §5.1: Eq. 2's bound in units of beta for Figure 3 (p = 1/300, tkt_rate 1000, draw_len 3, d_draw 10)
TABLE = {
    (2, 1): "309.07", (2, 6): "459.07", (2, 10): "579.07",
    (10, 1): "2781.60", (10, 6): "4131.60", (10, 10): "5211.60",
    (100, 1): "30597.60", (100, 6): "45447.60", (100, 10): "57327.60",
}


def test_penalty_bound_reproduces_the_table_of_schemes_5_1() -> None:
    got = figure3_table()
    assert {k: f"{float(v):.2f}" for k, v in got.items()} == TABLE


def test_figure3_pays_ten_beta_per_draw_and_theorem1_rho_is_undefined() -> None:
    p = Fraction(1, 300)
    assert p * 1000 * 3 == 10
    assert theorem1_rho(p, 1000) is None  # (1-p)*1000 = 996.67
    assert eq2_rho(p, 1000, 3) > 10**20


def test_min_penalty_is_the_least_integer_strictly_above_the_bound() -> None:
    kw = dict(m=2, p=Fraction(1, 300), beta=1000, tkt_rate=1000, draw_len=3, d_draw=10, d_redeem=1)
    bound = penalty_bound(**kw)  # type: ignore[arg-type]
    need = min_penalty(**kw)  # type: ignore[arg-type]
    assert need > bound >= need - 1


def params(**over: object) -> Params:
    base: dict[str, object] = dict(p=Fraction(1, 4), beta=1000, tkt_rate=8, draw_len=2, l_esc=4, d_draw=2,
                                   d_redeem=2, merchants=(KEYS[0], KEYS[1]), customer=KEYS[2], notary=KEYS[3],
                                   start_height=300, b_penalty=10**6, delay=16)
    base.update(over)
    return Params(**base)  # type: ignore[arg-type]


def test_derived_numbers_and_schedule() -> None:
    pr = params()
    assert pr.winners == 4 and pr.groups == 2 and pr.group_budget == 4000 and pr.b_escrow == 8000
    assert pr.max_seqno == 32 and pr.split
    assert pr.group_range(1) == (16, 16)
    assert [pr.t_draw(g) for g in (0, 1)] == [303, 305]
    assert [pr.t_expire(g) for g in (0, 1)] == [305, 307]
    assert pr.t_refund == 309
    assert pr.seqno_window(300) == (0, 16) and pr.seqno_window(302) == (8, 32)


@pytest.mark.parametrize("over, words", [
    (dict(p=Fraction(1, 3)), "W = "),
    (dict(draw_len=3), "does not divide"),
    (dict(b_penalty=100), "not above Eq. 2"),
    (dict(merchants=(KEYS[2],)), "distinct"),
    (dict(merchants=(b"\x02" + bytes(32),)), "merchant 0"),
    (dict(p=Fraction(3, 2)), "p must be"),
    (dict(confirmations=3), "confirmations"),
    (dict(refund_margin=0), "refund_margin"),
])
def test_under_collateralised_or_invalid_escrow_refused(over: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        params(**over)


def test_penalty_exactly_at_the_requirement_accepted_one_below_refused() -> None:
    need = params().required_penalty
    assert params(b_penalty=need).b_penalty == need
    with pytest.raises(ConfigError):
        params(b_penalty=need - 1)


def test_canonical_params_commitment_changes_with_every_field() -> None:
    a = params()
    assert len(a.digest) == 32
    for over in (dict(beta=1001), dict(delay=17), dict(merchants=(KEYS[1], KEYS[0])), dict(start_height=301)):
        assert params(**over).digest != a.digest


def test_params_travel_as_their_canonical_encoding_and_only_it() -> None:
    ks = keys(4)
    p = small_params(ks[0], ks[1], ks[2:], 500)
    assert Params.from_canonical(p.canonical()) == p
    raw = bytearray(p.canonical())
    tag = len(b"btcmicro/microcash/params/v1")
    raw[tag:tag + 16] = (2).to_bytes(8, "big") + (8).to_bytes(8, "big")  # p = 2/8: the same p, not in lowest terms
    with pytest.raises(ProtocolError, match="MALFORMED"):
        Params.from_canonical(bytes(raw))
    for bad in (p.canonical()[:-1], p.canonical() + b"\x00", b"btcmicro/microcash/params/v2" + p.canonical()[tag:]):
        with pytest.raises(ProtocolError):
            Params.from_canonical(bad)
    weak = bytearray(p.canonical())
    weak[tag + 8 * 9:tag + 8 * 10] = (1).to_bytes(8, "big")  # B_penalty 1 sat: below Eq. 2's bound
    with pytest.raises(ConfigError, match="Eq. 2"):
        Params.from_canonical(bytes(weak))
