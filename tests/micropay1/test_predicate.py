"""Π^esc (SCHEMES.md §2.1, §2.4's predicate cases) as a pure function: honest win, wrong opening, σ
over another a₂, losing transcript, non-canonical σ."""
from __future__ import annotations

import coincurve
import pytest

from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import SECP256K1_ORDER, PrivateKey
from btcmicro.lottery.micropay1 import Outpoint, Transcript, check_release, commit_r1, release, sigma_digest

K = 7
GENESIS = bytes(range(32))
ESCROW = Outpoint(b"\xab" * 32, 1)
KEY = PrivateKey(bytes(31) + b"\x05")
A2 = b"\x22" * 20
R1 = bytes.fromhex("29c14f18638da11b75663e050087b591")  # the paper's §3.3 r1
S = b"\x33" * 16


def _r2(win: bool) -> bytes:
    """An r2 whose low K bits equal r1's (a win) or differ in the lowest one."""
    return R1[:15] + bytes([R1[15] ^ (0 if win else 1)])


def _sigma(c: bytes, r2: bytes, a2: bytes = A2, escrow: Outpoint = ESCROW) -> bytes:
    return coincurve.PrivateKey(KEY.to_bytes()).sign_schnorr(sigma_digest(GENESIS, escrow, c, r2, a2), bytes(32))


def _x(win: bool = True, **kw: bytes) -> Transcript:
    c = commit_r1(R1, S)
    r2 = _r2(win)
    return Transcript(c, R1, S, r2, kw.get("sigma", _sigma(c, r2)))


def test_paper_commitment_vector() -> None:
    from btcmicro.core.hashes import sha256
    assert sha256(R1).hex().startswith("7c12e848") and sha256(R1).hex().endswith("0e52695e")


def test_honest_win_releases() -> None:
    check_release(_x(), KEY.pubkey, ESCROW, A2, K, GENESIS)
    assert release(_x(), KEY.pubkey[1:], ESCROW, A2, K, GENESIS)  # x-only key too


def test_wrong_opening_refused() -> None:
    x = _x()
    for bad in (Transcript(x.c, R1, b"\x34" * 16, x.r2, x.sigma), Transcript(x.c, bytes(16), S, x.r2, x.sigma)):
        with pytest.raises(ProtocolError, match="BAD_OPENING"):
            check_release(bad, KEY.pubkey, ESCROW, A2, K, GENESIS)


def test_sigma_over_another_a2_or_escrow_refused() -> None:
    x = _x()
    for sigma in (_sigma(x.c, x.r2, a2=b"\x23" * 20), _sigma(x.c, x.r2, escrow=Outpoint(ESCROW.txid, 2))):
        with pytest.raises(ProtocolError, match="BAD_SIGMA"):
            check_release(Transcript(x.c, x.r1, x.s, x.r2, sigma), KEY.pubkey, ESCROW, A2, K, GENESIS)
    with pytest.raises(ProtocolError, match="BAD_SIGMA"):  # and σ is checked under the escrow's key only
        check_release(x, PrivateKey(bytes(31) + b"\x06").pubkey, ESCROW, A2, K, GENESIS)


def test_losing_transcript_refused() -> None:
    with pytest.raises(ProtocolError, match="LOSING_TICKET"):
        check_release(_x(win=False), KEY.pubkey, ESCROW, A2, K, GENESIS)
    assert not release(_x(win=False), KEY.pubkey, ESCROW, A2, K, GENESIS)


def test_non_canonical_sigma_refused() -> None:
    x = _x()
    r, s = x.sigma[:32], int.from_bytes(x.sigma[32:], "big")
    variants = [
        x.sigma + b"\x01",  # a hashtype byte appended (a script signature's shape)
        b"\x20" + x.sigma,  # signmessage-style header, as the paper's base64 σ
        r + (SECP256K1_ORDER - s).to_bytes(32, "big"),  # s negated
        r + SECP256K1_ORDER.to_bytes(32, "big"),  # s >= n
        (2**256 - 1).to_bytes(32, "big") + x.sigma[32:],  # r >= p
    ]
    if s + SECP256K1_ORDER < 2**256:  # s + n, the same scalar mod n, when it fits 32 bytes
        variants.append(r + (s + SECP256K1_ORDER).to_bytes(32, "big"))
    for sigma in variants:
        with pytest.raises(ProtocolError, match="BAD_SIGMA"):
            check_release(Transcript(x.c, x.r1, x.s, x.r2, sigma), KEY.pubkey, ESCROW, A2, K, GENESIS)
