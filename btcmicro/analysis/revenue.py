"""How far a lottery-paid merchant's revenue strays from its expectation (Pass–shelat §4.1).

Each ticket wins independently with probability ρ and a winning ticket pays its face value
``V/ρ``, so a merchant selling at price ``V`` earns ``V`` per ticket in expectation and, after
``n`` tickets, ``(V/ρ)·K`` with ``K ~ Binomial(n, ρ)`` winning tickets. Everything here is a
statement about ``K``; money stays in integer satoshis (or in units of ``X``, the price, when no
price is given, as the paper writes it).

Probabilities are computed two ways, chosen by :data:`EXACT_TERMS`:

- **exact**: the tail ``P(K < k) = Σ C(n,j) a^j (b−a)^(n−j) / b^n`` for ``ρ = a/b`` summed in
  integers, then divided once (Python rounds that division correctly);
- **log-space**: the largest term from ``math.lgamma``, the others by the ratio of neighbouring
  binomial terms, scaled so nothing underflows (relative error about 1e-9 at 10^8 tickets).

"Revenue below ``f`` of expected" is strict: ``K·V/ρ < f·n·V``, i.e. ``K < f·n·ρ``, decided in
exact rational arithmetic (the paper's sum to ``⌊f·n·ρ⌋`` counts equality too; the two differ only
at the ``n`` where ``f·n·ρ`` is a whole number).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

__all__ = [
    "EXACT_TERMS",
    "EXACT_BITS",
    "MAX_TICKETS",
    "parse_rho",
    "wins_needed",
    "prob_wins_below",
    "prob_wins_below_exact",
    "prob_revenue_below",
    "win_pmf",
    "central_interval",
    "revenue_below_curve",
    "RevenueReport",
    "revenue_report",
]

EXACT_TERMS = 5_000
"""Tails with at most this many terms are summed exactly in integers; longer ones in log space."""

EXACT_BITS = 1 << 23
"""...and only while ``b^n`` (``ρ = a/b``) fits in this many bits (1 MiB): each exact tail stays under a second."""

MAX_TICKETS = 100_000_000
"""The largest ticket count the analysis accepts (log-space error stays below about 1e-9)."""

_NEGLIGIBLE = 2.0**-64  # a term this small next to the running sum cannot change a double

Method = Literal["auto", "exact", "log"]


def parse_rho(text: str | Fraction) -> Fraction:
    """The winning probability from ``"1/128"``, ``"0.0078125"`` or a Fraction; ``0 < ρ ≤ 1``.

    Raises ValueError with a readable reason for anything else.
    """
    try:
        rho = Fraction(text)
    except (ValueError, ZeroDivisionError, TypeError):
        raise ValueError(f"{text!r} is not a probability: give a fraction such as 1/128") from None
    if not 0 < rho <= 1:
        raise ValueError(f"{rho} is not in (0, 1]")
    return rho


def _check(n: int, rho: Fraction) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_TICKETS:
        raise ValueError(f"ticket count must be an int in [0, {MAX_TICKETS:,}], got {n!r}")
    if not isinstance(rho, Fraction) or not 0 < rho <= 1:
        raise ValueError(f"rho must be a Fraction in (0, 1], got {rho!r}")


def wins_needed(n: int, rho: Fraction, fraction: Fraction) -> int:
    """The fewest winning tickets among ``n`` that bring revenue to at least ``fraction`` of expected.

    Revenue is below ``fraction·E[R]`` exactly when fewer tickets than this win.
    """
    _check(n, rho)
    return max(0, math.ceil(Fraction(fraction) * n * rho))


def _exact_tail(n: int, rho: Fraction, k: int) -> tuple[int, int]:
    """``P(K < k)`` as an unreduced integer ratio (numerator, denominator)."""
    a, b = rho.numerator, rho.denominator
    y = b - a
    m = k - 1
    # Horner in y: acc = Σ_{j≤m} C(n,j) a^j y^(m−j), every step a big number times a small one.
    acc, c, a_pow = 0, 1, 1
    for j in range(m + 1):
        acc = acc * y + c * a_pow
        c = c * (n - j) // (j + 1)
        a_pow *= a
    return acc * y ** (n - m), b**n


def _log_pmf(n: int, k: int, log_p: float, log_q: float) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q


def _mode(n: int, rho: Fraction) -> int:
    return min(n, math.floor((n + 1) * rho))


def _log_tail(n: int, rho: Fraction, k: int) -> float:
    """``P(K < k)`` in log space, summing from the term nearest the mode outwards."""
    p = float(rho)
    if rho == 1:
        return 0.0  # every ticket wins: K = n ≥ k is certain, 0 < k ≤ n
    log_p, log_q = math.log(p), math.log1p(-p)
    odds = p / (1.0 - p)
    lower = k - 1 <= _mode(n, rho)
    j = k - 1 if lower else k  # the term of largest magnitude in the sum we take
    total, term = 1.0, 1.0
    if lower:  # Σ_{i<k} P(K=i), terms falling as i goes down
        for i in range(j, 0, -1):
            term *= i / ((n - i + 1) * odds)
            total += term
            if term < total * _NEGLIGIBLE:
                break
    else:  # 1 − Σ_{i≥k} P(K=i), terms falling as i goes up
        for i in range(j, n):
            term *= (n - i) * odds / (i + 1)
            total += term
            if term < total * _NEGLIGIBLE:
                break
    log_sum = _log_pmf(n, j, log_p, log_q) + math.log(total)
    return math.exp(log_sum) if lower else -math.expm1(log_sum)


def prob_wins_below(n: int, rho: Fraction, k: int, method: Method = "auto") -> float:
    """``P(K < k)``: the probability that fewer than ``k`` of ``n`` tickets win.

    ``method="auto"`` sums exactly when the tail has at most :data:`EXACT_TERMS` terms and
    ``b^n`` at most :data:`EXACT_BITS` bits.
    """
    _check(n, rho)
    if k <= 0:
        return 0.0
    if k > n:
        return 1.0
    small = k <= EXACT_TERMS and n * rho.denominator.bit_length() <= EXACT_BITS
    if method == "exact" or (method == "auto" and small):
        num, den = _exact_tail(n, rho, k)
        return num / den
    if method not in ("auto", "log"):
        raise ValueError(f"unknown method {method!r}")
    return _log_tail(n, rho, k)


def prob_wins_below_exact(n: int, rho: Fraction, k: int) -> Fraction:
    """``P(K < k)`` as an exact Fraction (reducing it costs a gcd of ``n·log2(b)`` bits: small ``n``)."""
    _check(n, rho)
    if k <= 0:
        return Fraction(0)
    if k > n:
        return Fraction(1)
    return Fraction(*_exact_tail(n, rho, k))


def prob_revenue_below(n: int, rho: Fraction, fraction: Fraction, method: Method = "auto") -> float:
    """The probability that revenue after ``n`` tickets is below ``fraction`` of its expectation."""
    return prob_wins_below(n, rho, wins_needed(n, rho, fraction), method)


def win_pmf(n: int, rho: Fraction) -> list[tuple[int, float]]:
    """``(k, P(K = k))`` for every ``k`` that carries mass a double can tell from zero next to the mode.

    The price per ticket with ``k`` wins is ``k/(n·ρ)`` times the price.
    """
    _check(n, rho)
    if rho == 1:
        return [(n, 1.0)]
    p = float(rho)
    odds = p / (1.0 - p)
    mode = _mode(n, rho)
    up, down = [1.0], [1.0]
    term = 1.0
    for i in range(mode, n):
        term *= (n - i) * odds / (i + 1)
        if term < 2.0**-80:
            break
        up.append(term)
    term = 1.0
    for i in range(mode, 0, -1):
        term *= i / ((n - i + 1) * odds)
        if term < 2.0**-80:
            break
        down.append(term)
    terms = down[:0:-1] + up
    total = math.fsum(terms)  # the mass left out is below 2^-80 of the mode's: normalise by the sum
    first = mode - (len(down) - 1)
    return [(first + i, t / total) for i, t in enumerate(terms)]


def central_interval(pmf: Iterable[tuple[int, float]], mass: float = 0.99) -> tuple[int, int]:
    """The win counts ``(lo, hi)`` leaving at most ``(1 − mass)/2`` of the probability on each side."""
    tail = (1.0 - mass) / 2
    points = list(pmf)
    below, lo = 0.0, points[0][0]
    for k, q in points:
        if below + q > tail:
            lo = k
            break
        below += q
    above, hi = 0.0, points[-1][0]
    for k, q in reversed(points):
        if above + q > tail:
            hi = k
            break
        above += q
    return lo, hi


def revenue_below_curve(rho: Fraction, fraction: Fraction, max_tickets: int,
                        grid: int = 200) -> list[tuple[int, float]]:
    """``(n, P(revenue < fraction·expected))`` for ``n`` up to ``max_tickets``, sawtooth kept.

    The curve jumps where one more win becomes necessary; both sides of every jump are included,
    and a grid of ``grid`` evenly spaced points fills the smooth stretches between.
    """
    _check(max_tickets, rho)
    f = Fraction(fraction)
    points = {max(1, max_tickets * i // grid) for i in range(grid + 1)}
    if f > 0:
        step = 1 / (f * rho)  # n·f·ρ passes the integer j at n = j·step
        j = 1
        while (edge := math.floor(j * step) + 1) <= max_tickets:
            points.update((edge - 1, edge))
            j += 1
    return [(n, prob_revenue_below(n, rho, f, method="log")) for n in sorted(points) if n >= 1]


def _decimal(q: Fraction, places: int = 3) -> str:
    """``q`` rounded half-even to ``places`` decimals, for display (never for accounting)."""
    value = Decimal(q.numerator) / Decimal(q.denominator)
    return str(value.quantize(Decimal(1).scaleb(-places)))


@dataclass(frozen=True)
class RevenueReport:
    """The §4.1 figures for one ``(ρ, n, price)``: expectation, spread, shortfall odds, 99% band."""

    rho: Fraction
    tickets: int
    price: int | None  # sats per ticket; None: amounts are in units of the price X
    face_value: Fraction  # what a winning ticket pays, in sats (or in X)
    expected_wins: Fraction
    stdev_wins: float
    prob_no_win: float
    below: tuple[tuple[Fraction, int, float], ...]  # (fraction of expected, wins needed, P(revenue below))
    interval: tuple[int, int]  # wins carrying the central 99% of the mass
    mass: float = 0.99
    unit: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", "X" if self.price is None else "sats")

    def _price_per_ticket(self, wins: int) -> Fraction:
        return wins * self.face_value / self.tickets

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: integers for sats, strings for exact fractions and display decimals."""
        face = self.face_value
        return {
            "rho": str(self.rho),
            "tickets": self.tickets,
            "price": self.price,
            "unit": self.unit,
            "face_value": int(face) if face.denominator == 1 else str(face),
            "expected_wins": str(self.expected_wins),
            "expected_revenue": (self.tickets * self.price if self.price is not None else self.tickets),
            "stdev_wins": self.stdev_wins,
            "prob_no_win": self.prob_no_win,
            "below": [
                {"fraction": str(f), "wins_needed": k, "probability": p,
                 "revenue_below": str(f * self.tickets * (self.price or 1))}
                for f, k, p in self.below
            ],
            "interval": {
                "mass": self.mass,
                "wins": list(self.interval),
                "price_per_ticket": [_decimal(self._price_per_ticket(k)) for k in self.interval],
            },
        }

    def render(self) -> str:
        """The report for people."""
        unit = self.unit
        price = f"{self.price:,} sats" if self.price is not None else "X"
        face = self.face_value
        face_text = f"{int(face):,} {unit}" if face.denominator == 1 else f"{_decimal(face)} {unit}"
        mean = self.expected_wins
        total = self.tickets * (self.price or 1)
        lines = [
            f"{self.tickets:,} tickets at winning probability {self.rho}, price {price} "
            f"(a winning ticket pays {face_text})",
            f"  expected: {_decimal(mean, 2)} winning tickets, revenue {total:,} {unit}",
            f"  standard deviation: {self.stdev_wins:.2f} wins "
            f"({100 * self.stdev_wins / float(mean):.1f}% of the expectation)",
            f"  no ticket wins: {_percent(self.prob_no_win)}",
        ]
        for f, k, p in self.below:
            lines.append(f"  revenue below {_decimal(100 * f, 1).rstrip('0').rstrip('.')}% of expected "
                         f"(fewer than {k:,} wins): {_percent(p)}")
        lo, hi = self.interval
        lines.append(f"  {100 * self.mass:g}% of the mass: {lo:,}–{hi:,} wins, price per ticket "
                     f"{_decimal(self._price_per_ticket(lo))}–{_decimal(self._price_per_ticket(hi))} {unit}")
        return "\n".join(lines)


def _percent(p: float) -> str:
    if p == 0.0:
        return "below 1e-300"
    if p < 1e-4:
        return f"{p:.3g}"
    return f"{100 * p:.3g}%"


DEFAULT_FRACTIONS = (Fraction(4, 5), Fraction(9, 10))


def revenue_report(rho: Fraction, tickets: int, price: int | None = None,
                   fractions: Iterable[Fraction] = DEFAULT_FRACTIONS, mass: float = 0.99) -> RevenueReport:
    """The §4.1 analysis for ``tickets`` tickets at winning probability ``rho``.

    ``price`` is in satoshis; a winning ticket then pays ``price/rho``, which must be a whole
    number of satoshis (ValueError otherwise).
    """
    _check(tickets, rho)
    if tickets < 1:
        raise ValueError("the analysis needs at least one ticket")
    if price is not None:
        if not isinstance(price, int) or isinstance(price, bool) or price < 1:
            raise ValueError(f"price must be a positive int of satoshis, got {price!r}")
        face = price / rho
        if face.denominator != 1:
            raise ValueError(f"a winning ticket would pay {price}/{rho} = {_decimal(face)} sats, "
                             "not a whole number: pick a price that is a multiple of ρ's numerator")
    else:
        face = 1 / rho
    below = tuple((Fraction(f), wins_needed(tickets, rho, f), prob_revenue_below(tickets, rho, f))
                  for f in fractions)
    return RevenueReport(
        rho=rho, tickets=tickets, price=price, face_value=face,
        expected_wins=tickets * rho,
        stdev_wins=math.sqrt(float(tickets * rho * (1 - rho))),
        prob_no_win=prob_wins_below(tickets, rho, 1),
        below=below, interval=central_interval(win_pmf(tickets, rho), mass), mass=mass,
    )
