"""MICROPAY2-NI attacks (SCHEMES.md §4.4), each named after the attack it plays, and the win frequency.

Node-free: the parties run on a FakeChain; nothing here judges a script."""
from __future__ import annotations

import hashlib
import math
import os

import coincurve
import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import SECP256K1_ORDER, PrivateKey
from btcmicro.crypto import ecvrf
from btcmicro.lottery.vuf import Offer, T, Ticket, VufClaim, wins_beta
from btcmicro.lottery.vuf.prover import Prover

from .world import VRF_SECRET, World

N = SECP256K1_ORDER


# --- the malleation attack -------------------------------------------------------------------------------


def _der_int(v: int, pad: int = 0) -> bytes:
    b = v.to_bytes(33, "big").lstrip(b"\x00") or b"\x00"
    if b[0] & 0x80:
        b = b"\x00" + b
    b = b"\x00" * pad + b  # pad > 0: a BER re-encoding (leading zeros DER forbids)
    return b"\x02" + bytes([len(b)]) + b


def _der(r: int, s: int, pad_r: int = 0) -> bytes:
    body = _der_int(r, pad_r) + _der_int(s)
    return b"\x30" + bytes([len(body)]) + body


def _parse_lenient(sig: bytes) -> tuple[int, int]:
    """A naive parser: BER lengths and leading zeros accepted, as lenient libraries once did."""
    assert sig[0] == 0x30 and sig[2] == 0x02
    rlen = sig[3]
    r = int.from_bytes(sig[4:4 + rlen], "big")
    assert sig[4 + rlen] == 0x02
    slen = sig[5 + rlen]
    s = int.from_bytes(sig[6 + rlen:6 + rlen + slen], "big")
    return r, s


def naive_verify(pubkey: bytes, sig: bytes, digest: bytes) -> bool:
    """A naive ECDSA verifier: any encoding that parses, high or low S."""
    try:
        r, s = _parse_lenient(sig)
    except (AssertionError, IndexError):
        return False
    s = min(s, N - s)  # (r, s) and (r, n - s) are both valid ECDSA signatures
    return bool(coincurve.PublicKey(pubkey).verify(_der(r, s), digest, hasher=None))


def naive_wins(vrf_secret: int, sigma: bytes, k: int) -> bool:
    """The lottery of a naive verifier: the VUF on whatever σ bytes it was handed."""
    return wins_beta(ecvrf.proof_to_hash(Prover(vrf_secret).prove(sigma)), k)


def test_malleation_attack_rerolls_the_lottery_against_a_naive_ecdsa_verifier():
    payer = PrivateKey.generate()
    k, tickets, honest, cheating = 2, 300, 0, 0
    for i in range(tickets):
        digest = hashlib.sha256(b"ticket" + i.to_bytes(4, "big")).digest()
        sigma = payer.sign(digest)  # the payer's ECDSA sigma (strict, low-S)
        r, s = _parse_lenient(sigma)
        variants = [sigma, _der(r, N - s), _der(r, s, pad_r=1)]  # negated, re-encoded
        assert len(set(variants)) == 3 and all(naive_verify(payer.pubkey, v, digest) for v in variants)
        honest += naive_wins(VRF_SECRET, sigma, k)
        cheating += any(naive_wins(VRF_SECRET, v, k) for v in variants)
    # three draws per ticket: 1 - (3/4)^3 = 58% instead of rho = 25%
    assert honest / tickets < 0.36 and cheating / tickets > 0.45


def test_malleation_attack_is_impossible_against_bip340_sigma():
    w = World(n=4, k=2)
    tk = w.ticket()
    r, s = tk.sigma[:32], int.from_bytes(tk.sigma[32:], "big")
    negated = r + (N - s).to_bytes(32, "big")
    for variant in (negated, r + s.to_bytes(32, "big")[::-1]):
        forged = Ticket(tk.escrow, tk.t, tk.k, tk.claim_value, variant, tk.sigma1)
        with pytest.raises(ProtocolError) as e:
            w.merchant.check(forged)
        assert e.value.code == "BAD_SIGMA"
        # nor can a merchant present it to the VTS
        x = forged.claim(w.merchant.offer, Prover(VRF_SECRET).prove(variant))
        with pytest.raises(ProtocolError) as e:
            w.vts.claim(x)
        assert e.value.code == "BAD_SIGMA"
    # a re-encoding (a byte more or less) does not decode: sigma is 64 fixed bytes
    b = tk.encode()
    at = b.index(tk.sigma)
    for bad in (b[:at] + b"\x00" + b[at:], b[:at] + b[at + 1:]):
        with pytest.raises(ProtocolError):
            Ticket.decode(bad)
    assert w.merchant.store.count() == (0, 0) and len(w.vts.board) == 0


# --- t reuse ---------------------------------------------------------------------------------------------


def test_t_reuse_refused_by_the_merchant():
    w = World(n=4, k=2)
    tk = w.ticket()
    w.merchant.check(tk)
    before = w.merchant.store.count()
    with pytest.raises(ProtocolError) as e:  # the same ticket again
        w.merchant.check(tk.encode())
    assert e.value.code == "T_REUSED"
    other = w.payer.escrow_ref(w.escrows[1])
    again = w.payer.sign_ticket(other, w.merchant.offer, tk.claim_value, t=tk.t)  # same t, another escrow
    with pytest.raises(ProtocolError) as e:
        w.merchant.check(again)
    assert e.value.code == "T_REUSED"
    assert w.merchant.store.count() == before


def test_t_reuse_refused_by_the_vts():
    w = World(n=6, k=1)
    offer = w.merchant.offer
    a, b = (w.payer.escrow_ref(r) for r in w.escrows[:2])
    for _ in range(200):  # two winning tickets with one t on two escrows
        t = w.payer.new_t(offer)
        xa = _winning_claim(w, a, offer, t)
        xb = _winning_claim(w, b, offer, t)
        if xa and xb:
            break
    w.vts.claim(xa)
    with pytest.raises(ProtocolError) as e:
        w.vts.claim(xb)
    assert e.value.code == "T_REUSED"
    assert len(w.vts.board) == 1 and w.vts.board.entry_for(*b.outpoint) is None
    assert w.vts.claim(xa).x == xa  # the signed x itself is still an idempotent retry


def _winning_claim(w: World, escrow, offer: Offer, t: T) -> VufClaim | None:
    tk = w.payer.sign_ticket(escrow, offer, escrow.value - 1_000, t=t)
    beta, proof = w.merchant.prover.evaluate(tk.sigma)
    return tk.claim(offer, proof) if wins_beta(beta, tk.k) else None


# --- a swapped VRF key -----------------------------------------------------------------------------------


def test_swapped_vrf_key_refused():
    """The merchant proves with another VRF key after the payer signed (grinding keys for a win)."""
    w = World(n=4, k=1)
    tk = w.ticket()
    for secret in range(2, 200):
        other = Prover(secret)
        beta, proof = other.evaluate(tk.sigma)
        if wins_beta(beta, tk.k):
            break
    o = w.merchant.offer
    x = VufClaim(tk.escrow, tk.t, tk.k, tk.claim_value, other.public_key, o.a_m, tk.sigma, tk.sigma1, proof)
    assert ecvrf.verify(other.public_key, proof, tk.sigma)  # the proof itself is valid ...
    with pytest.raises(ProtocolError) as e:
        w.vts.claim(x)
    assert e.value.code == "BAD_SIGMA"  # ... but sigma covers f_m
    assert len(w.vts.board) == 0


# --- invalid proofs and off-curve points -------------------------------------------------------------------


def _off_curve_x() -> bytes:
    for x in range(1, 100):
        try:
            coincurve.PublicKey(b"\x02" + x.to_bytes(32, "big"))
        except ValueError:
            return b"\x02" + x.to_bytes(32, "big")
    raise AssertionError


def test_invalid_proofs_and_off_curve_points_refused():
    w = World(n=6, k=1)
    _, t = w.winning()
    _, x = w.merchant.claim_witness(t)
    pi = x.proof
    flip = lambda b, i: b[:i] + bytes([b[i] ^ 1]) + b[i + 1:]  # noqa: E731
    bad_proofs = {
        "c tampered": flip(pi, 40),
        "s tampered": flip(pi, 80),
        "Gamma off the curve": _off_curve_x() + pi[33:],
        "Gamma another point": PrivateKey.generate().pubkey + pi[33:],
        "s >= q": pi[:49] + b"\xff" * 32,
        "proof of another alpha": Prover(VRF_SECRET).prove(os.urandom(64)),
        "proof by another key": Prover(VRF_SECRET + 1).prove(x.sigma),
    }
    for name, bad in bad_proofs.items():
        forged = VufClaim(x.escrow, x.t, x.k, x.claim_value, x.vrf_key, x.a_m, x.sigma, x.sigma1, bad)
        with pytest.raises(ProtocolError) as e:
            w.vts.claim(forged.encode())
        assert e.value.code == "BAD_PROOF", name
    # a VRF key that is not a point does not even decode
    b = x.encode()
    at = b.index(x.vrf_key)
    with pytest.raises(ProtocolError) as e:
        VufClaim.decode(b[:at] + _off_curve_x() + b[at + 33:])
    assert e.value.code == "BAD_POINT"
    assert len(w.vts.board) == 0 and not w.vts.store.t_signed(w.vts.pubkey, t)
    w.vts.claim(x)  # the honest x still goes through
    assert len(w.vts.board) == 1


# --- the win frequency -------------------------------------------------------------------------------------


def _binomial_interval(n: int, p: float, level: float) -> tuple[int, int]:
    """The central ``level`` interval of Binomial(n, p), exact (log-space pmf summed from both tails)."""
    def pmf(i: int) -> float:
        return math.exp(math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                        + i * math.log(p) + (n - i) * math.log1p(-p))
    tail = (1 - level) / 2
    lo, acc = 0, 0.0
    while acc + pmf(lo) <= tail:
        acc += pmf(lo)
        lo += 1
    hi, acc = n, 0.0
    while acc + pmf(hi) <= tail:
        acc += pmf(hi)
        hi -= 1
    return lo, hi


def test_win_frequency_over_100k_tickets_in_the_binomial_999_interval():
    """10^5 tickets through the VUF at rho = 2^-3; the wins lie in the central 99.9% interval of
    Binomial(10^5, 1/8). The first 1,000 sigmas are real BIP340 signatures of a payer; the rest are
    distinct 64-byte strings (signing is 2/3 of the cost and does not change what the VUF sees: an
    input the merchant cannot choose). beta depends on Gamma = x·H(sigma) only, so the proof's (c, s)
    are not computed; the first 200 betas are checked against the full proof."""
    n, k = 100_000, 3
    suite = ecvrf.SECP256K1_SHA256_TAI
    prover = Prover(VRF_SECRET)
    xb = VRF_SECRET.to_bytes(32, "big")
    key = coincurve.PrivateKey(hashlib.sha256(b"payer").digest())
    seed = hashlib.sha256(b"tickets").digest()
    won = 0
    for i in range(n):
        tag = seed + i.to_bytes(4, "big")
        sigma = key.sign_schnorr(hashlib.sha256(tag).digest(), seed) if i < 1_000 else hashlib.sha512(tag).digest()
        h_point, _ = suite.encode_to_curve(prover.public_key, sigma)
        beta = hashlib.sha256(b"\xfe\x03" + h_point.multiply(xb).format() + b"\x00").digest()
        if i < 200:
            assert beta == prover.evaluate(sigma)[0]
        won += wins_beta(beta, k)
    lo, hi = _binomial_interval(n, 1 / 8, 0.999)
    assert (lo, hi) == (12_157, 12_845)  # 12,500 +- 3.29 sd (sd = 104.6)
    assert lo <= won <= hi, (won, lo, hi)


def test_prover_matches_the_reference_ecvrf_byte_for_byte():
    p = Prover(VRF_SECRET)
    for i in range(50):
        alpha = os.urandom(i)
        assert p.prove(alpha) == ecvrf.prove(VRF_SECRET, alpha)


def test_lean_verifier_agrees_with_the_reference_on_every_secp256k1_vector():
    import json
    from pathlib import Path

    from btcmicro.lottery.vuf.prover import verified_beta

    path = Path(__file__).resolve().parents[3] / "shared" / "vectors" / "ecvrf-rfc9381.json"
    vectors = [v for v in json.loads(path.read_text()) if v["curve"] == "secp256k1"]
    assert len(vectors) == 66
    for v in vectors:
        pk, pi, alpha = bytes.fromhex(v["pk"]), bytes.fromhex(v["pi"]), bytes.fromhex(v["alpha"])
        try:
            ref = ecvrf.verified_hash(pk, pi, alpha)
        except ProtocolError as e:
            assert v["expect"] == "invalid", v["id"]
            with pytest.raises(ProtocolError) as mine:
                verified_beta(pk, pi, alpha)
            assert mine.value.code == e.code, v["id"]
        else:
            assert v["expect"] == "valid" and ref.hex() == v["beta"] == verified_beta(pk, pi, alpha).hex(), v["id"]


def test_grinding_t_does_not_help_the_merchant():
    """Even a merchant that controlled t (say t were the minute alone) gets one draw per payer signature: the VUF
    input is sigma, and any t the merchant picks has no sigma from the payer."""
    w = World(n=4, k=1)
    tk = w.ticket()
    for minute in range(tk.t.minute - 2, tk.t.minute + 3):
        if minute == tk.t.minute:
            continue
        ground = Ticket(tk.escrow, T(tk.t.nonce, tk.t.merchant, minute), tk.k, tk.claim_value, tk.sigma, tk.sigma1)
        with pytest.raises(ProtocolError) as e:
            w.merchant.check(ground)
        assert e.value.code == "BAD_SIGMA"
    assert w.merchant.store.count() == (0, 0)


# --- the pre-claim attack ----------------------------------------------------------------------------------


def test_pre_claim_attack_refused_by_a_merchant_following_the_board():
    """A payer acting as its own merchant (its own VRF key: it can grind t until it wins) has the VTS sign a
    claim on its escrow, keeps it off the chain, then buys from an honest merchant with that escrow: the
    honest merchant could never be paid. A merchant following the VTS's board refuses the ticket."""
    from btcmicro.lottery.vts import BoardFollower
    from btcmicro.lottery.vuf import Merchant, SQLiteMerchantStore

    w = World(n=2, k=1)
    escrow = w.payer.escrow_ref(w.escrows[0])
    own = Merchant(424242, w.a_m, w.chain, SQLiteMerchantStore(":memory:"), [w.vts.pubkey], k=1, price=1_000,
                   clock=w.clock)
    for _ in range(100):
        tk = w.payer.sign_ticket(escrow, own.offer, escrow.value - 1_000)
        _, acc, proof = own.verify(tk)
        if acc.won:
            break
    w.vts.claim(tk.claim(own.offer, proof))  # signed and published, never broadcast
    victim_ticket = w.payer.sign_ticket(escrow, w.merchant.offer, escrow.value - 1_000)
    naive = w.merchant.verify(victim_ticket)  # a merchant not following the board would accept it
    assert naive[0].escrow.outpoint == escrow.outpoint
    follower = BoardFollower(w.vts.board, w.vts.pubkey)
    careful = Merchant(0x777, w.a_m, w.chain, SQLiteMerchantStore(":memory:"), [w.vts.pubkey], k=1, price=1_000,
                       boards=[follower], clock=w.clock)
    ticket = w.payer.sign_ticket(escrow, careful.offer, escrow.value - 1_000)
    with pytest.raises(ProtocolError) as e:
        careful.check(ticket)
    assert e.value.code == "ESCROW_CLAIMED"
    assert careful.store.count() == (0, 0)
    other = w.payer.sign_ticket(w.payer.escrow_ref(w.escrows[1]), careful.offer, escrow.value - 1_000)
    careful.check(other)  # an escrow with no published claim is accepted
