"""MicroCash parameters (§4.1), the schedule (§4.2) and the penalty bound (Eq. 2).

Everything is exact: p is a :class:`~fractions.Fraction`, money is int satoshis, heights are ints.

Decisions (SCHEMES.md §5.6, §9):

- ρ in Eq. 2 is ``C(a, b)`` with ``a = tkt_rate·draw_len`` and ``b = (1−p)·a`` (Eq. 2's form, item 10).
  Theorem 1's form ``C(tkt_rate, (1−p)·tkt_rate)`` is undefined for the paper's own Figure 3
  parameters ((1−p)·tkt_rate = 996.67 is not an integer); :func:`theorem1_rho` says so.
- The detection period uses d_redeem (the paper's undefined "d_expire" is read as d_redeem).
- The escrow's heights cannot depend on its confirmation height (a CLTV is fixed when the output
  is made), so the customer fixes ``start_height``, the height of issuing round 0; N and the
  merchants refuse an escrow confirmed at or after it. Round i is height ``start_height + i``.
- Group g (rounds ``g·draw_len .. (g+1)·draw_len−1``) draws at ``t_draw(g)`` = height of its last
  round + d_draw; its tickets expire at ``t_expire(g) = t_draw(g) + d_redeem``. Its budget output
  can be refunded from ``t_expire(g) + refund_margin`` (at least 1: a claim accepted at t_expire must
  not race C's refund; the margin leaves N time to get its payout or burn mined); the penalty and
  the last group from ``t_refund`` = that of the last group.

Two options (SCHEMES.md §5.5, §9 items 7 and 8), each encoded only when used, so a single notary
with the P-N penalty keeps its encoding (and MCSH commitment) of before:

- a **k-of-n notary federation**: ``notaries`` (n >= 2 keys, ``notary`` is the first) and
  ``threshold`` k; the encoding appends ``0x01 | k u8 | n u8 | the n keys``;
- **P-B, the trustless penalty**: ``ticket_key`` P_tkt (C's ticket key, BIP340 with per-seqno
  committed nonces), ``nonce_root`` (the Merkle root of the nonce points R_seqno), ``ticket_salt``
  (32 fresh bytes per escrow: sk_tkt is derived from C's key and this salt, so no two escrows share a
  ticket key or its nonces: ``trustless.TicketKey.derive``), ``burn_keys`` (the ephemeral keys
  B_1..B_m that pre-sign the burn, then are deleted) and ``burn_fee`` (the burn's fee, fixed at
  setup); the encoding appends
  ``0x02 | P_tkt 33 | nonce root 32 | ticket salt 32 | burn_fee u64 | m u8 | the m keys``.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.script.standard import is_pubkey
from btcmicro.wire.binary import Reader

__all__ = [
    "MAX_DRAW_LEN",
    "MAX_GROUP_OUTPUTS",
    "Params",
    "penalty_bound",
    "min_penalty",
    "theorem1_rho",
    "eq2_rho",
    "parse_probability",
    "check_pubkey",
    "figure3_table",
]

#: c, the system constant bounding draw_len (the paper leaves it "small").
MAX_DRAW_LEN = 16
#: one payment-escrow output per draw group up to this many groups (SCHEMES.md §9 item 9).
MAX_GROUP_OUTPUTS = 50
_PARAMS_TAG = b"btcmicro/microcash/params/v1"
_FEDERATION, _TRUSTLESS = 1, 2
#: at most this many notaries or burn keys (a P2WSH CHECKMULTISIG takes up to 20; 15 keeps it small).
MAX_KEYS = 15


def parse_probability(text: str | Fraction | int) -> Fraction:
    """``"1/300"``, ``"0.01"`` or a Fraction, as an exact probability in (0, 1)."""
    try:
        p = Fraction(text)
    except (ValueError, ZeroDivisionError, TypeError):
        raise ConfigError(f"p must be a fraction such as 1/300, not {text!r}") from None
    if not 0 < p < 1:
        raise ConfigError(f"p must be in (0, 1), not {p}")
    return p


def check_pubkey(key: bytes, what: str) -> bytes:
    """A 33-byte compressed public key on the curve, else ConfigError."""
    key = bytes(key)
    if len(key) != 33 or not is_pubkey(key):
        raise ConfigError(f"{what}: a 33-byte compressed public key is required")
    try:
        import coincurve

        coincurve.PublicKey(key)
    except ValueError:
        raise ConfigError(f"{what}: not a point on secp256k1") from None
    return key


def _pos_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an int >= {minimum}, not {value!r}")
    return value


def eq2_rho(p: Fraction, tkt_rate: int, draw_len: int) -> int:
    """Eq. 2's ρ = C(a, (1−p)·a) with a = tkt_rate·draw_len; ConfigError if (1−p)·a is not an integer."""
    a = tkt_rate * draw_len
    b = (1 - p) * a
    if b.denominator != 1:
        raise ConfigError(f"(1-p)*tkt_rate*draw_len = {b} is not an integer: rho is undefined")
    return math.comb(a, int(b))


def theorem1_rho(p: Fraction, tkt_rate: int) -> int | None:
    """Theorem 1's ρ = C(tkt_rate, (1−p)·tkt_rate), or None where it is undefined (non-integer)."""
    b = (1 - p) * tkt_rate
    return math.comb(tkt_rate, int(b)) if b.denominator == 1 else None


def penalty_bound(*, m: int, p: Fraction, beta: int, tkt_rate: int, draw_len: int, d_draw: int,
                  d_redeem: int) -> Fraction:
    """The right-hand side of Eq. 2, exactly, in satoshis (B_penalty must be strictly above it)::

        (m−1)·p·β·tkt_rate·draw_len·((1−p)/(1−ρ⁻¹) + draw_len·((1−p)(d_draw−1) + d_redeem))
    """
    p = parse_probability(p)
    rho = eq2_rho(p, tkt_rate, draw_len)
    if rho <= 1:
        raise ConfigError("rho <= 1: the bound is undefined (p too large for this many tickets)")
    first = (1 - p) * Fraction(rho, rho - 1)
    second = draw_len * ((1 - p) * (d_draw - 1) + d_redeem)
    return (m - 1) * p * beta * tkt_rate * draw_len * (first + second)


def min_penalty(**kw: int | Fraction) -> int:
    """The least integer number of satoshis strictly above :func:`penalty_bound`."""
    return math.floor(penalty_bound(**kw)) + 1  # type: ignore[arg-type]


@dataclass(frozen=True)
class Params:
    """One escrow's parameters, checked as N and every merchant check them at creation (§4.1).

    ``merchants`` are 33-byte public keys in index order (index_M is the position); ``customer`` is
    C's 33-byte key (its x coordinate signs tickets with BIP340; the key signs refunds); ``notary``
    N's 33-byte key. ``delay`` is T, the iterations of SHA-256 in the draw; ``confirmations`` k.
    ``fee_reserve`` sats ride on every escrow output on top of its budget, for the fees of N's
    payouts and burn (the paper's miners take no fee for them; Bitcoin's do).
    """

    p: Fraction
    beta: int
    tkt_rate: int
    draw_len: int
    l_esc: int
    d_draw: int
    d_redeem: int
    merchants: tuple[bytes, ...]
    customer: bytes
    notary: bytes
    start_height: int
    b_penalty: int
    delay: int = 1 << 16
    confirmations: int = 1
    refund_margin: int = 2
    fee_reserve: int = 3_000
    notaries: tuple[bytes, ...] = ()
    threshold: int = 1
    ticket_key: bytes = b""
    nonce_root: bytes = b""
    ticket_salt: bytes = b""
    burn_keys: tuple[bytes, ...] = ()
    burn_fee: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "p", parse_probability(self.p))
        for name in ("beta", "tkt_rate", "draw_len", "l_esc", "d_draw", "start_height", "b_penalty"):
            _pos_int(name, getattr(self, name))
        _pos_int("fee_reserve", self.fee_reserve, 0)
        for name in ("d_redeem", "confirmations", "refund_margin"):
            _pos_int(name, getattr(self, name), 1)
        _pos_int("delay", self.delay, 0)
        if self.draw_len > MAX_DRAW_LEN:
            raise ConfigError(f"draw_len {self.draw_len} out of range 1..{MAX_DRAW_LEN}")
        if self.l_esc % self.draw_len:
            raise ConfigError(f"draw_len {self.draw_len} does not divide l_esc {self.l_esc}")
        w = self.p * self.tkt_rate * self.draw_len
        if w.denominator != 1:
            raise ConfigError(f"W = p*tkt_rate*draw_len = {w} is not an integer")
        if self.confirmations > self.d_redeem:
            raise ConfigError(f"k = {self.confirmations} confirmations leave no time to claim before "
                              f"t_expire (d_redeem = {self.d_redeem})")
        if not self.merchants or len(self.merchants) > 0xFFFF:
            raise ConfigError("the merchant set must have 1..65535 keys")
        keys = [check_pubkey(bytes(k), f"merchant {i}") for i, k in enumerate(self.merchants)]
        object.__setattr__(self, "merchants", tuple(keys))
        object.__setattr__(self, "customer", check_pubkey(bytes(self.customer), "customer"))
        object.__setattr__(self, "notary", check_pubkey(bytes(self.notary), "notary"))
        if len(set(keys) | {self.customer, self.notary}) != len(keys) + 2:
            raise ConfigError("the customer, the notary and the merchants must have distinct keys")
        self._check_federation(keys)
        self._check_trustless(keys)
        if self.refund_height(self.groups - 1) >= 500_000_000:
            raise ConfigError("refund heights must stay below 500,000,000")
        need = self.required_penalty
        if self.b_penalty < need:
            raise ConfigError(f"B_penalty {self.b_penalty} sat is not above Eq. 2's bound "
                              f"(needs at least {need} sat)")

    def _check_federation(self, merchants: list[bytes]) -> None:
        notaries = tuple(check_pubkey(bytes(k), f"notary {i}") for i, k in enumerate(self.notaries))
        if len(notaries) == 1:
            notaries = ()
        k = _pos_int("threshold", self.threshold)
        if not notaries:
            if k != 1:
                raise ConfigError("a threshold above 1 needs a federation of notaries")
        else:
            if not 2 <= len(notaries) <= MAX_KEYS or not k <= len(notaries):
                raise ConfigError(f"a federation is 2..{MAX_KEYS} notaries with 1 <= k <= n, not "
                                  f"{k} of {len(notaries)}")
            if notaries[0] != self.notary:
                raise ConfigError("notary must be the federation's first key")
            if len(set(notaries) | set(merchants) | {self.customer}) != len(notaries) + len(merchants) + 1:
                raise ConfigError("the notaries, the customer and the merchants must have distinct keys")
        object.__setattr__(self, "notaries", notaries)

    def _check_trustless(self, merchants: list[bytes]) -> None:
        _pos_int("burn_fee", self.burn_fee, 0)
        if not self.ticket_key:
            if self.nonce_root or self.ticket_salt or self.burn_keys or self.burn_fee:
                raise ConfigError("nonce_root, ticket_salt, burn_keys and burn_fee belong to the P-B penalty "
                                  "(ticket_key)")
            return
        tkt = check_pubkey(bytes(self.ticket_key), "ticket_key")
        burn = tuple(check_pubkey(bytes(k), f"burn key {i}") for i, k in enumerate(self.burn_keys))
        if len(bytes(self.nonce_root)) != 32:
            raise ConfigError("nonce_root: the 32-byte Merkle root of the committed nonces is required")
        if len(bytes(self.ticket_salt)) != 32:
            raise ConfigError("ticket_salt: the escrow's 32-byte ticket-key salt is required")
        if not 1 <= len(burn) <= MAX_KEYS:
            raise ConfigError(f"P-B needs 1..{MAX_KEYS} burn keys")
        if len({tkt, *burn, self.customer, *self.notary_keys, *merchants}) != (
                len(burn) + len(self.notary_keys) + len(merchants) + 2):
            raise ConfigError("the ticket key and the burn keys must be fresh keys, distinct from every other")
        if self.nonce_bits > 20:
            raise ConfigError(f"P-B commits a nonce per seqno: at most 2^20 seqnos, not {self.max_seqno}")
        if not 0 < self.burn_fee < self.b_penalty + self.fee_reserve:
            raise ConfigError("the burn fee must be positive and below the penalty output")
        object.__setattr__(self, "ticket_key", tkt)
        object.__setattr__(self, "nonce_root", bytes(self.nonce_root))
        object.__setattr__(self, "ticket_salt", bytes(self.ticket_salt))
        object.__setattr__(self, "burn_keys", burn)

    # --- the options -----------------------------------------------------------------------------

    @property
    def notary_keys(self) -> tuple[bytes, ...]:
        """N's key, or the federation's n keys in script order."""
        return self.notaries or (self.notary,)

    @property
    def trustless(self) -> bool:
        """Whether the penalty is P-B (pre-signed burn, nonce-committed tickets) rather than P-N."""
        return bool(self.ticket_key)

    @property
    def ticket_signer(self) -> bytes:
        """The key tickets verify under: P_tkt under P-B, else C's key."""
        return self.ticket_key or self.customer

    @property
    def nonce_bits(self) -> int:
        """The depth of the nonce Merkle tree: seqnos 0 .. max_seqno−1 are its leaves."""
        return max(1, (self.max_seqno - 1).bit_length())

    # --- derived numbers -------------------------------------------------------------------------

    @property
    def m(self) -> int:
        return len(self.merchants)

    @property
    def winners(self) -> int:
        """W = p·tkt_rate·draw_len, the winning seqnos per draw."""
        return int(self.p * self.tkt_rate * self.draw_len)

    @property
    def groups(self) -> int:
        """The number of draws, l_esc/draw_len."""
        return self.l_esc // self.draw_len

    @property
    def group_budget(self) -> int:
        """W·β: what one draw pays."""
        return self.winners * self.beta

    @property
    def b_escrow(self) -> int:
        """Eq. 1: β·p·tkt_rate·l_esc."""
        return self.group_budget * self.groups

    @property
    def max_seqno(self) -> int:
        """The first seqno out of range: tkt_rate·l_esc."""
        return self.tkt_rate * self.l_esc

    @property
    def split(self) -> bool:
        """Whether the payment escrow is one output per draw group (SCHEMES.md §9 item 9)."""
        return self.groups <= MAX_GROUP_OUTPUTS

    @property
    def required_penalty(self) -> int:
        return min_penalty(m=self.m, p=self.p, beta=self.beta, tkt_rate=self.tkt_rate,
                           draw_len=self.draw_len, d_draw=self.d_draw, d_redeem=self.d_redeem)

    # --- the schedule ----------------------------------------------------------------------------

    def round_height(self, i: int) -> int:
        return self.start_height + i

    def round_of_seqno(self, seqno: int) -> int:
        return seqno // self.tkt_rate

    def group_of_seqno(self, seqno: int) -> int:
        return seqno // (self.tkt_rate * self.draw_len)

    def group_range(self, g: int) -> tuple[int, int]:
        """(lo, R): the group's seqnos are lo .. lo+R−1."""
        r = self.tkt_rate * self.draw_len
        return g * r, r

    def t_draw(self, g: int) -> int:
        return self.round_height((g + 1) * self.draw_len - 1) + self.d_draw

    def t_expire(self, g: int) -> int:
        return self.t_draw(g) + self.d_redeem

    def refund_height(self, g: int) -> int:
        """The CLTV height of group g's budget output."""
        return self.t_expire(g) + self.refund_margin

    @property
    def t_refund(self) -> int:
        """The CLTV height of the penalty (and of a single, unsplit payment escrow)."""
        return self.refund_height(self.groups - 1)

    def round_at(self, height: int) -> int:
        """The issuing round at ``height`` (may be out of 0..l_esc−1)."""
        return height - self.start_height

    def seqno_window(self, height: int) -> tuple[int, int]:
        """Seqnos a merchant accepts at ``height``: the current round's range ± one round."""
        i = self.round_at(height)
        lo = max(0, (i - 1) * self.tkt_rate)
        hi = min(self.max_seqno, (i + 2) * self.tkt_rate)
        return lo, max(lo, hi)

    # --- the commitment --------------------------------------------------------------------------

    def canonical(self) -> bytes:
        """The canonical encoding committed to by ``OP_RETURN "MCSH" ‖ SHA256(canonical)``."""
        out = bytearray(_PARAMS_TAG)
        num, den = self.p.numerator, self.p.denominator
        for v in (num, den, self.beta, self.tkt_rate, self.draw_len, self.l_esc, self.d_draw,
                  self.d_redeem, self.start_height, self.b_penalty, self.delay, self.confirmations,
                  self.refund_margin, self.fee_reserve):
            out += v.to_bytes(8, "big")
        out += self.customer + self.notary + len(self.merchants).to_bytes(2, "big")
        for k in self.merchants:
            out += k
        if self.notaries:
            out += bytes([_FEDERATION, self.threshold, len(self.notaries)]) + b"".join(self.notaries)
        if self.trustless:
            out += bytes([_TRUSTLESS]) + self.ticket_key + self.nonce_root + self.ticket_salt
            out += self.burn_fee.to_bytes(8, "big")
            out += bytes([len(self.burn_keys)]) + b"".join(self.burn_keys)
        return bytes(out)

    @classmethod
    def from_canonical(cls, data: bytes) -> Params:
        """The parameters :meth:`canonical` encoded (how they travel to N and the merchants):
        ``ProtocolError`` for bytes that are not an encoding, ``ConfigError`` for an encoding of
        parameters that fail the creation checks (Eq. 2, an integer W, ...)."""
        r = Reader(data, _PARAMS_TAG, "microcash params")
        num, den, beta, tkt_rate, draw_len, l_esc, d_draw, d_redeem, start, b_penalty, delay, k, margin, reserve = (
            r.u64(name) for name in ("p numerator", "p denominator", "beta", "tkt_rate", "draw_len", "l_esc",
                                     "d_draw", "d_redeem", "start_height", "b_penalty", "delay", "confirmations",
                                     "refund_margin", "fee_reserve"))
        customer, notary = r.take(33, "customer"), r.take(33, "notary")
        merchants = tuple(r.take(33, "merchant") for _ in range(r.u16("merchants")))
        opts: dict[str, object] = {}
        if r.remaining and r.data[r.pos] == _FEDERATION:
            r.u8("option")
            opts["threshold"] = r.u8("threshold")
            opts["notaries"] = tuple(r.take(33, "notary") for _ in range(r.u8("notaries")))
        if r.remaining and r.data[r.pos] == _TRUSTLESS:
            r.u8("option")
            opts.update(ticket_key=r.take(33, "ticket_key"), nonce_root=r.take(32, "nonce_root"),
                        ticket_salt=r.take(32, "ticket_salt"), burn_fee=r.u64("burn_fee"))
            opts["burn_keys"] = tuple(r.take(33, "burn key") for _ in range(r.u8("burn keys")))
        r.end()
        if den == 0:
            raise ProtocolError("MALFORMED", "microcash params: p has a zero denominator")
        params = cls(Fraction(num, den), beta, tkt_rate, draw_len, l_esc, d_draw, d_redeem, merchants, customer,
                     notary, start, b_penalty, delay=delay, confirmations=k, refund_margin=margin,
                     fee_reserve=reserve, **opts)  # type: ignore[arg-type]
        if params.canonical() != bytes(data):  # p not in lowest terms: one encoding per parameter set
            raise ProtocolError("MALFORMED", "microcash params: not the canonical encoding")
        return params

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.canonical()).digest()

    def replace(self, **changes: object) -> Params:
        from dataclasses import replace

        return replace(self, **changes)  # type: ignore[arg-type]


def figure3_table(ms: Sequence[int] = (2, 10, 100), d_redeems: Sequence[int] = (1, 6, 10)
                  ) -> dict[tuple[int, int], Fraction]:
    """SCHEMES.md §5.1's table: Eq. 2's bound in units of β for Figure 3's parameters."""
    p = Fraction(1, 300)
    return {(m, d): penalty_bound(m=m, p=p, beta=1, tkt_rate=1000, draw_len=3, d_draw=10, d_redeem=d)
            for m in ms for d in d_redeems}
