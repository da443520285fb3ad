"""Revenue variance of lottery payments (Pass–shelat §4.1) against direct sums and the paper's figures."""
from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from btcmicro.analysis import (
    central_interval,
    parse_rho,
    prob_revenue_below,
    prob_wins_below,
    prob_wins_below_exact,
    revenue_below_curve,
    revenue_report,
    win_pmf,
    wins_needed,
)

RHO1, RHO2 = Fraction(1, 128), Fraction(1, 512)
EIGHTY, NINETY = Fraction(4, 5), Fraction(9, 10)


def direct_fraction_sum(n: int, rho: Fraction, fraction: Fraction) -> Fraction:
    """P(revenue < fraction·E) straight from the definition: every k whose revenue k·(1/ρ) is short."""
    return sum((math.comb(n, k) * rho**k * (1 - rho) ** (n - k)
                for k in range(n + 1) if k / rho < fraction * n), Fraction(0))


def direct_integer_tail(n: int, a: int, b: int, k: int) -> float:
    """P(K < k) for ρ = a/b as one correctly rounded division of two integer sums."""
    return sum(math.comb(n, j) * a**j * (b - a) ** (n - j) for j in range(k)) / b**n


@pytest.mark.parametrize("n", [1, 7, 128, 300, 641])
@pytest.mark.parametrize("rho", [RHO1, Fraction(3, 10), Fraction(1, 2)])
@pytest.mark.parametrize("fraction", [EIGHTY, NINETY, Fraction(1)])
def test_exact_tail_equals_direct_fraction_sum(n, rho, fraction):
    expected = direct_fraction_sum(n, rho, fraction)
    k = wins_needed(n, rho, fraction)
    assert prob_wins_below_exact(n, rho, k) == expected
    for method in ("exact", "log", "auto"):
        assert prob_revenue_below(n, rho, fraction, method=method) == pytest.approx(float(expected), rel=1e-12,
                                                                                    abs=1e-300)


def test_threshold_is_strict_where_the_expectation_is_a_whole_number_of_wins():
    # 0.8 · 16,000 / 128 = 100 wins exactly: 100 wins is 80% of expected, not below it.
    assert wins_needed(16_000, RHO1, EIGHTY) == 100
    assert prob_revenue_below(16_000, RHO1, EIGHTY) == direct_integer_tail(16_000, 1, 128, 100)
    assert wins_needed(16_001, RHO1, EIGHTY) == 101


def test_paper_figure4_caption_roughly_two_percent():
    """Figure 4 (ρ1 = 1/128): "At 15,000 and 50,000 transactions, there is a roughly 2% chance that
    revenue is less than 80% or 90% respectively of the expected revenue."""
    at_50k_90 = prob_revenue_below(50_000, RHO1, NINETY)
    at_15k_80 = prob_revenue_below(15_000, RHO1, EIGHTY)
    # Both agree with an independent integer sum of the binomial terms.
    assert at_50k_90 == direct_integer_tail(50_000, 1, 128, 352)
    assert at_15k_80 == direct_integer_tail(15_000, 1, 128, 94)
    assert wins_needed(50_000, RHO1, NINETY) == 352 and wins_needed(15_000, RHO1, EIGHTY) == 94
    # 50,000 / 90%: 2.20%, as the caption says.
    assert round(100 * at_50k_90) == 2
    # 15,000 / 80%: 1.19%. The caption's "roughly 2%" is generous, read off the plot: the sawtooth's
    # teeth near 15,000 reach about 1.5%, and the 80% curve last touches 2% at 13,285 tickets.
    assert 0.01 < at_15k_80 < 0.015
    tooth = max(prob_revenue_below(n, RHO1, EIGHTY, method="log") for n in range(14_500, 15_001))
    assert 0.014 < tooth < 0.02
    assert prob_revenue_below(13_285, RHO1, EIGHTY) > 0.02
    assert max(prob_revenue_below(n, RHO1, EIGHTY, method="log") for n in range(13_286, 16_001)) < 0.02


def test_paper_text_after_100000_transactions():
    """"After 100,000 transactions, there is high probability that the actual revenue will be at least
    80% of the expected value and good probability that [it] will be at least 90%"."""
    assert prob_revenue_below(100_000, RHO1, EIGHTY) < 1e-8
    assert prob_revenue_below(100_000, RHO1, NINETY) < 0.01
    # ρ2 = 1/512 (Figure 5) is visibly worse at the same count.
    assert prob_revenue_below(100_000, RHO2, NINETY) > 10 * prob_revenue_below(100_000, RHO1, NINETY)


@pytest.mark.parametrize("n,fraction", [(15_000, EIGHTY), (50_000, NINETY), (100_000, NINETY),
                                        (200_000, Fraction(99, 100)), (3_000, Fraction(6, 5))])
def test_log_space_agrees_with_exact_sum(n, fraction):
    exact = prob_revenue_below(n, RHO1, fraction, method="exact")
    assert prob_revenue_below(n, RHO1, fraction, method="log") == pytest.approx(exact, rel=1e-9)


def test_large_counts_switch_to_log_space_and_stay_sane():
    # 10^8 tickets: far beyond exact summation; the tails are below a double's range, the centre is not.
    assert prob_revenue_below(100_000_000, RHO2, NINETY) == 0.0
    assert 0.4 < prob_revenue_below(100_000_000, RHO2, Fraction(1)) < 0.6
    assert prob_wins_below(10**6, RHO1, 7813, method="log") == pytest.approx(0.5, abs=0.01)


def test_sawtooth_jumps_up_where_one_more_win_is_needed():
    """The paper: the floor makes the curve "choppy and non-monotone" at those n."""
    curve = dict(revenue_below_curve(RHO1, EIGHTY, 20_000))
    jump = 16_001  # 0.8·n/128 passes 100
    assert wins_needed(jump, RHO1, EIGHTY) == wins_needed(jump - 1, RHO1, EIGHTY) + 1
    assert curve[jump] > curve[jump - 1]
    assert curve[jump] == pytest.approx(prob_revenue_below(jump, RHO1, EIGHTY), rel=1e-9)
    assert all(curve[n] >= curve[n + 1] for n in range(jump, 16_160) if n in curve and n + 1 in curve)


@pytest.mark.parametrize("n", [1_000, 10_000])
def test_price_distribution_figure3(n):
    pmf = win_pmf(n, RHO1)
    assert sum(q for _, q in pmf) == pytest.approx(1.0, rel=1e-12)
    assert pmf[0][0] == 0 or pmf[0][1] < 1e-20  # the lower end is either k = 0 or negligible
    for k, q in pmf[:: max(1, len(pmf) // 7)]:
        assert q == pytest.approx(float(math.comb(n, k) * RHO1**k * (1 - RHO1) ** (n - k)), rel=1e-9)
    lo, hi = central_interval(pmf, 0.99)
    below = prob_wins_below_exact(n, RHO1, lo)
    above = 1 - prob_wins_below_exact(n, RHO1, hi + 1)
    assert below <= Fraction(1, 200) and above <= Fraction(1, 200)  # the blue region holds 99%
    assert prob_wins_below_exact(n, RHO1, lo + 1) > Fraction(1, 200)  # and is no wider than needed
    assert 1 - prob_wins_below_exact(n, RHO1, hi) > Fraction(1, 200)


def test_report_in_sats_and_json():
    report = revenue_report(RHO1, 10_000, price=100)
    data = report.to_json()
    assert data["face_value"] == 12_800 and data["expected_revenue"] == 1_000_000 and data["unit"] == "sats"
    assert data["expected_wins"] == "625/8"
    assert data["below"][0]["wins_needed"] == 63 and data["below"][0]["revenue_below"] == "800000"
    assert data["below"][0]["probability"] == prob_revenue_below(10_000, RHO1, EIGHTY)
    assert data["prob_no_win"] == float(Fraction(127, 128) ** 10_000)
    lo, hi = data["interval"]["wins"]
    assert data["interval"]["price_per_ticket"] == [f"{Decimal(k * 12_800) / 10_000:.3f}" for k in (lo, hi)]
    text = report.render()
    assert "a winning ticket pays 12,800 sats" in text and "fewer than 63 wins" in text


def test_report_refuses_a_price_that_makes_a_fractional_face_value():
    with pytest.raises(ValueError, match="not a whole number"):
        revenue_report(Fraction(3, 1000), 1_000, price=1)
    assert revenue_report(Fraction(3, 1000), 1_000, price=3).face_value == 1_000


@pytest.mark.parametrize("text", ["0", "-1/128", "2", "1/0", "abc", "nan", "inf", ""])
def test_parse_rho_rejects(text):
    with pytest.raises(ValueError):
        parse_rho(text)


def test_parse_rho_accepts():
    assert parse_rho("1/128") == parse_rho("0.0078125") == RHO1
    assert parse_rho(" 1/512 ") == RHO2 and parse_rho("1") == 1
