"""The merchant's fast paths give exactly what the general code gives.

The ticket is decoded in one pass and filled in one step; the merchant opens c before it parses
escrow 2's keys and parses pk_2 alone (pk_M is proved by the opening, pk_T is the trusted key); r1's
HMAC comes from pads hashed once; σ1's digest from escrow 1's midstate. Each is compared here with
the code it replaced (kept below as the reference), over valid tickets, cheating payers' tickets and
mutated bytes."""
from __future__ import annotations

import hmac
import random

import coincurve
import pytest
from bitcoin.core.script import OP_CHECKMULTISIG, CScript

from btcmicro.core.amounts import MAX_MONEY
from btcmicro.core.errors import ProtocolError
from btcmicro.core.hashes import hash160, sha256
from btcmicro.lottery.common import KeyedMac, check_k, is_strict_der, verify_sig, wins
from btcmicro.lottery.micropay3 import SIGHASH_SINGLE_ACP, Ticket, tx1_sighash
from btcmicro.lottery.micropay3 import messages as m
from btcmicro.lottery.micropay3.merchant import _PKM_TAG, Merchant
from btcmicro.lottery.micropay3.store import Acceptance
from btcmicro.script.standard import p2pkh
from btcmicro.tx.sign import sighash
from tests.micropay2.test_fast_paths import _mutations

from .fakes import World

# --- the code the fast paths replaced ----------------------------------------------------------------


def _reference_escrow2_ok(script: bytes) -> bool:
    if (len(script) != 105 or script[0] != 0x52 or script[1] != 0x21 or script[35] != 0x21
            or script[69] != 0x21 or script[103] != 0x53 or script[104] != 0xAE):
        return False
    keys = (script[2:35], script[36:69], script[70:103])

    def point(k: bytes) -> bool:
        try:
            coincurve.PublicKey(k)
        except Exception:
            return False
        return True

    return len(set(keys)) == 3 and all(k[0] in (2, 3) and point(k) for k in keys)


def _reference_ticket(data: bytes) -> Ticket:
    """Ticket.decode before the fast paths (one pass, the constructor, the uncached key checks)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError("MALFORMED", f"ticket: expected bytes, got {type(data).__name__}")
    d = bytes(data)
    if not d.startswith(m.TICKET_TAG):
        raise ProtocolError("BAD_TAG", f"ticket: does not start with {m.TICKET_TAG.decode()}")
    n, p, e = len(d), m._TICKET_HEAD, m._TAG_END
    if p + 1 > n:
        raise ProtocolError("MALFORMED", "ticket: truncated in escrow 1, nonce, k, price or c")
    m._escrow1.cache_clear()
    escrow = m._escrow1(d[e:e + 77])
    nonce, k = d[e + 77:e + 93], d[e + 93]
    price = int.from_bytes(d[e + 94:e + 102], "big")
    c = d[e + 102:p]
    fields = []
    for name in ("a_M", "escrow2", "a_U"):
        if p >= n or p + 1 + d[p] > n:
            raise ProtocolError("MALFORMED", f"ticket: truncated in {name}")
        fields.append(d[p + 1:p + 1 + d[p]])
        p += 1 + d[p]
    a_m, escrow2, a_u = fields
    if p + 28 > n:
        raise ProtocolError("MALFORMED", "ticket: truncated in escrow2_value, feerate or r2")
    value = int.from_bytes(d[p:p + 8], "big")
    feerate = int.from_bytes(d[p + 8:p + 12], "big")
    r2 = d[p + 12:p + 28]
    p += 28
    sigs = []
    for name in ("sigma", "sigma1"):
        if p >= n or p + 1 + d[p] > n:
            raise ProtocolError("MALFORMED", f"ticket: truncated in {name}")
        sigs.append(d[p + 1:p + 1 + d[p]])
        p += 1 + d[p]
    if p != n:
        raise ProtocolError("TRAILING_BYTES", f"ticket: {n - p} bytes after the end")
    sigma, sigma1 = sigs
    if not 0 < price <= MAX_MONEY or not 0 < value <= MAX_MONEY:
        raise ProtocolError("MALFORMED", "ticket: an amount is out of range")
    if not m._is_address(a_m) or not m._is_address(a_u):
        raise ProtocolError("BAD_ADDRESS", "ticket: a_M or a_U is not a standard address script")
    if not _reference_escrow2_ok(escrow2):
        raise ProtocolError("ESCROW2_MALFORMED",
                            "ticket: escrow 2 is not 2 <pk_2> <pk_M> <pk_T> 3 CHECKMULTISIG with three keys")
    if not sigma1 or sigma1[-1] != SIGHASH_SINGLE_ACP:
        raise ProtocolError("BAD_HASHTYPE", f"ticket: sigma1 must end with hashtype {SIGHASH_SINGLE_ACP:#x}")
    if not is_strict_der(sigma) or not is_strict_der(sigma1[:-1]):
        raise ProtocolError("NON_CANONICAL_SIGNATURE", "ticket: sigma or sigma1 is not strict low-S DER")
    check_k(k, "ticket")
    if value >= escrow.value:
        raise ProtocolError("MALFORMED", "ticket: escrow 2 must receive less than escrow 1 holds (tx_1's fee)")
    prize = value - m.release_fee(escrow2, a_m, feerate)
    if feerate == 0 or prize <= 0:
        raise ProtocolError("MALFORMED", "ticket: the release fee must be positive and below escrow 2's value")
    return Ticket(escrow, nonce, k, price, c, a_m, escrow2, a_u, value, feerate, r2, sigma, sigma1)


def _reference_verify(merchant: Merchant, data: bytes) -> tuple[Ticket, Acceptance]:
    """Merchant.verify before the fast paths: every check in its order, the digests built in full."""
    t = _reference_ticket(data)
    if merchant.clock() >= t.expires:
        raise ProtocolError("REQUEST_EXPIRED", "the payment request has expired")
    pk_m = t.escrow2[36:69]
    msg = b"btcmicro/micropay3/r1/v1" + t.nonce + bytes([t.k]) + t.price.to_bytes(8, "big") + bytes([len(t.a_m)])
    r1 = hmac.digest(merchant._secret, msg + t.a_m + pk_m, "sha256")[:16]
    if sha256(r1) != t.c:
        pk_m = merchant._key(_PKM_TAG, t.nonce).pubkey
        if sha256(merchant._r1(t.nonce, t.k, t.price, t.a_m, pk_m)) == t.c:
            raise ProtocolError("ESCROW2_WRONG_KEYS", "escrow 2 does not hold this request's pk_M in place")
        raise ProtocolError("UNKNOWN_REQUEST", "c does not open to a request of this merchant")
    if t.escrow2[70:103] != merchant.vts_key:
        raise ProtocolError("ESCROW2_WRONG_KEYS", "escrow 2 does not hold the trusted pk_T in place")
    if t.feerate < merchant.min_feerate:
        raise ProtocolError("FEERATE_TOO_LOW", f"tx_2 pays {t.feerate} sat/kvB, need {merchant.min_feerate}")
    if t.prize_value < t.price << t.k:
        raise ProtocolError("UNDERFUNDED", f"tx_2 pays {t.prize_value} sats, less than price * 2^k")
    e = t.escrow
    if not verify_sig(e.pubkey, t.sigma, m.sigma_digest(merchant.genesis, e, t.c, t.r2, t.k, t.a_m, t.escrow2,
                                                          t.a_u, t.escrow2_value, t.feerate)):
        raise ProtocolError("BAD_SIGMA", "sigma is not pk_1's signature on this ticket")
    code = bytes(p2pkh(hash160(e.pubkey)))
    tx1 = m.tx1_template(e, t.escrow2, t.escrow2_value)
    if not verify_sig(e.pubkey, t.sigma1[:-1], sighash(tx1, 0, code, e.value, SIGHASH_SINGLE_ACP, segwit=True)):
        raise ProtocolError("BAD_SIGMA1", "sigma1 is not pk_1's signature on tx_1")
    u = merchant.chain.get_utxo(e.txid, e.vout, include_mempool=True)
    if u is None:
        raise ProtocolError("ESCROW_SPENT", "escrow 1 is spent or unknown")
    if u.script_pubkey != e.script_pubkey or u.value != e.value:
        raise ProtocolError("ESCROW_MISMATCH", "escrow 1 is not this key and value on chain")
    if u.confirmations < merchant.min_confirmations:
        raise ProtocolError("ESCROW_UNCONFIRMED", f"escrow 1 has {u.confirmations} confirmations")
    return t, Acceptance(t.c, e.txid, e.vout, wins(r1, t.r2, t.k), t.prize_value, t.expires)


def _outcome(fn: object, *args: object) -> tuple[str, object]:
    try:
        return "ok", fn(*args)  # type: ignore[operator]
    except ProtocolError as e:
        return "refused", (e.code, e.detail)


def _not_a_point(rng: random.Random) -> bytes:
    while True:
        k = bytes([2 + rng.randrange(2)]) + rng.randbytes(32)
        try:
            coincurve.PublicKey(k)
        except Exception:
            return k


def _escrow2(*keys: bytes) -> bytes:
    return bytes(CScript([2, *keys, 3, OP_CHECKMULTISIG]))


def _cheats(w: World, rng: random.Random) -> list[bytes]:
    """Tickets a cheating payer signs in full (σ and σ1 valid over what they carry): escrow 2 with a
    key that is not a point in each place, with the keys out of place or repeated, and honest ones."""
    p, out = w.payer, []
    for number in range(12):
        rec = p.escrows()[number % len(p.escrows())]
        req = w.merchant.request()
        pk_2, pk_m, pk_t = p.ticket_pubkey(rec.index, 10_000 + number), req.pk_m, req.pk_t
        bad = _not_a_point(rng)
        for script in (None, _escrow2(bad, pk_m, pk_t), _escrow2(pk_2, bad, pk_t), _escrow2(pk_2, pk_m, bad),
                       _escrow2(pk_m, pk_2, pk_t), _escrow2(pk_2, pk_t, pk_m), _escrow2(pk_2, pk_2, pk_t),
                       _escrow2(pk_2, _not_a_point(rng), _not_a_point(rng))):
            out.append(p.sign_ticket(p.escrow_ref(rec), rec.index, 10_000 + number, req, escrow2=script).encode())
    return out


@pytest.fixture(scope="module")
def world() -> World:
    return World(n=4)


# --- the tests -----------------------------------------------------------------------------------------


def test_ticket_decoding_refuses_and_accepts_as_the_code_it_replaced(world: World) -> None:
    rng = random.Random(1)
    datas = _cheats(world, rng)
    for data in list(datas[:8]):
        datas += _mutations(data, rng, 600)
    for data in datas:
        m._valid_point.cache_clear()
        got, want = _outcome(Ticket.decode, data), _outcome(_reference_ticket, data)
        assert got == want, data.hex()
        if got[0] == "ok":
            t = got[1]
            assert isinstance(t, Ticket) and t.encode() == data and hash(t) == hash(want[1])
            assert t.__dict__.keys() >= {"_encoded", "prize_value"} and t.prize_value == want[1].prize_value  # type: ignore[attr-defined]
        formed = _outcome(m._decode_ticket, data, False)  # keys by form only: a superset of what decode takes
        if got[0] == "ok":
            assert formed == got
        elif formed[0] == "ok":
            assert got[1][0] == "ESCROW2_MALFORMED", data.hex()  # type: ignore[index]


def test_merchant_verify_answers_as_the_code_it_replaced(world: World) -> None:
    """Over honest tickets (winning and losing), cheating payers' and mutated ones, on escrows 1 that
    are confirmed, unconfirmed, spent and of another value, and after the requests expire: the same
    (ticket, acceptance) or the same refusal, with the same code and the same words."""
    rng = random.Random(2)
    w = world
    datas = [w.ticket().encode() for _ in range(24)] + _cheats(w, rng)
    for data in datas[:6]:
        datas += _mutations(data, rng, 300)
    e1, e2, e3 = w.add_escrow(300_000), w.add_escrow(300_000), w.add_escrow(300_000)
    w.chain.add_output(e2.txid, e2.vout, e2.value, e2.script_pubkey, confirmations=0)
    w.chain.add_output(e3.txid, e3.vout, e3.value + 1, e3.script_pubkey)
    for e in (e1, e2, e3):
        rec = w.payer.store.find(*e.outpoint)
        assert rec is not None
        datas += [w.payer.sign_ticket(e, rec.index, 20_000 + i, w.merchant.request()).encode() for i in range(4)]
    w.chain.spend_output(e1.txid, e1.vout)
    seen = set()
    for clock in (0, 10**6):
        w.clock.advance(clock)
        for data in datas:
            m._valid_point.cache_clear()
            got, want = _outcome(w.merchant.verify, data), _outcome(_reference_verify, w.merchant, data)
            assert got == want, data.hex()
            seen.add("ok" if got[0] == "ok" else got[1][0])  # type: ignore[index]
    assert seen >= {"ok", "REQUEST_EXPIRED", "ESCROW2_MALFORMED", "ESCROW2_WRONG_KEYS", "UNKNOWN_REQUEST",
                    "BAD_SIGMA", "ESCROW_SPENT", "ESCROW_UNCONFIRMED", "ESCROW_MISMATCH", "MALFORMED"}, seen


def test_a_key_that_is_not_a_point_is_refused_in_every_place_of_escrow_2(world: World) -> None:
    rng = random.Random(3)
    for i, data in enumerate(_cheats(world, rng)[:8]):
        m._valid_point.cache_clear()
        if i in (1, 2, 3, 7):  # pk_2, pk_M, pk_T, pk_M and pk_T not points
            with pytest.raises(ProtocolError, match="ESCROW2_MALFORMED"):
                world.merchant.verify(data)


def test_r1_mac_from_pads_is_hmac_sha256() -> None:
    rng = random.Random(4)
    for n in (0, 1, 16, 32, 63, 64, 65, 100, 200):
        key = rng.randbytes(n)
        mac = KeyedMac(key)
        for size in (0, 1, 55, 56, 64, 119, 200):
            msg = rng.randbytes(size)
            assert mac.digest(msg) == hmac.digest(key, msg, "sha256")


def test_sigma1_digest_from_the_midstate_is_the_generic_bip143_one(world: World) -> None:
    for _ in range(5):
        t = world.ticket()
        code = bytes(p2pkh(hash160(t.escrow.pubkey)))
        want = sighash(m.tx1_template(t.escrow, t.escrow2, t.escrow2_value), 0, code, t.escrow.value,
                       SIGHASH_SINGLE_ACP, segwit=True)
        assert t.tx1_sighash() == tx1_sighash(t.escrow, t.escrow2, t.escrow2_value) == want
        assert t.tx1_sighash() == want  # the midstate is reused, not consumed


def _der(r: int | bytes, s: int | bytes) -> bytes:
    def integer(v: int | bytes) -> bytes:
        b = v if isinstance(v, bytes) else v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")
        return b"\x02" + bytes([len(b)]) + b
    body = integer(r) + integer(s)
    return b"\x30" + bytes([len(body)]) + body


def test_strict_der_by_bytes_is_the_shared_check() -> None:
    """Strict DER with 0 < r < n and 0 < s <= n/2, read off the bytes: the same verdict as
    :func:`is_strict_der` on the integers' edges, on needless and missing zero bytes, and on mutations."""
    from btcmicro.core.der import HALF_ORDER, SECP256K1_ORDER

    rng = random.Random(5)
    n, half = SECP256K1_ORDER, HALF_ORDER
    edges = [0, 1, 2, 127, 128, 255, 256, half - 1, half, half + 1, n - 1, n, n + 1, 2**255 - 1, 2**255, 2**256 - 1,
             2**256, 2**264]
    sigs = [_der(r, s) for r in edges for s in edges]
    sigs += [_der(b"\x00" + bytes([b]) + rng.randbytes(31), rng.randrange(1, half)) for b in (0x00, 0x7F, 0x80, 0xFF)]
    sigs += [_der(rng.randrange(1, n), b"\x00" + bytes([b]) + rng.randbytes(30)) for b in (0x00, 0x7F, 0x80, 0xFF)]
    sigs += [_der(bytes([b]) + rng.randbytes(32), 5) for b in (0x00, 0x01, 0x6B, 0x80)]
    sigs += [_der(b"", 5), _der(5, b""), _der(b"\x80", 5), _der(5, b"\xff")]
    key = coincurve.PrivateKey(bytes(31) + b"\x07")
    for _ in range(40):
        sigs += _mutations(key.sign(rng.randbytes(32), hasher=None), rng, 40)
    for sig in sigs:
        assert m._strict_der(sig, len(sig)) == is_strict_der(sig), sig.hex()
        assert m._strict_der(sig + b"\x83", len(sig)) == is_strict_der(sig), sig.hex()


def test_release_fee_from_the_table_is_release_fee(world: World) -> None:
    t = world.ticket()
    for a in (bytes(p2pkh(bytes(20))), b"\xa9\x14" + bytes(20) + b"\x87", b"\x00\x14" + bytes(20),
              b"\x00\x20" + bytes(32), b"\x51\x20" + bytes(32)):
        assert m._is_address(a)
        for feerate in (1, 999, 1000, 1001, 2_000, 12_345, 2**32 - 1):
            assert -((-feerate * m._RELEASE_VSIZE[len(a)]) // 1000) == m.release_fee(t.escrow2, a, feerate)


def test_a_point_read_off_libsecp256k1_is_coincurves_parse() -> None:
    rng = random.Random(6)
    for _ in range(400):
        pk = bytes([rng.choice((2, 3, 4, 0))]) + rng.randbytes(32)
        try:
            coincurve.PublicKey(pk)
            want = True
        except ValueError:
            want = False
        assert m._is_point(pk) == want == m._valid_point(pk), pk.hex()
