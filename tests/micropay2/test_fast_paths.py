"""The hand-written fast paths of the hot checks give exactly what the general code gives.

The escrow script is assembled byte by byte, a2 is classified by its pattern, the claim fee and
dust threshold come from tables, and tickets and claim witnesses are decoded in one pass: each is
compared here with the slower, general route it replaces (CScript, Solver, the policy functions,
the Reader), over every shape and over mutated input."""
from __future__ import annotations

import random

import pytest
from bitcoin.core.script import (
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKSIG,
    OP_DROP,
    OP_ELSE,
    OP_ENDIF,
    OP_IF,
    CScript,
)

from btcmicro.contracts import Expiry
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2.templates import Micropay2Escrow, _push_number

KEYS = [PrivateKey(bytes([i + 1]) * 32).pubkey for i in range(21)]


def _reference_script(t: Micropay2Escrow) -> bytes:
    claim = t._claim_branch()
    if t.expiry is None:
        return bytes(CScript(claim))
    return bytes(CScript([OP_IF, *claim, OP_ELSE, t.expiry.value, OP_CHECKLOCKTIMEVERIFY, OP_DROP, t.payer,
                          OP_CHECKSIG, OP_ENDIF]))


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 20])
@pytest.mark.parametrize("expiry", [None, 1, 16, 17, 127, 128, 255, 256, 32767, 32768, 500_000, 499_999_999,
                                    500_000_000, 1_700_000_000, 2**31 - 1, 2**31, 2**32 - 1])
def test_escrow_script_is_cscripts(n: int, expiry: int | None) -> None:
    for k in sorted({1, n}):
        t = Micropay2Escrow(payer=KEYS[0], vts_keys=tuple(KEYS[1:n + 1]), threshold=k,
                            expiry=None if expiry is None else Expiry(expiry))
        assert t.script == _reference_script(t)


def test_push_number_is_cscripts() -> None:
    rng = random.Random(1)
    for v in [0, *range(1, 300), *(rng.randrange(2**32) for _ in range(2000))]:
        assert _push_number(v) == bytes(CScript([v])), v


def test_escrow_script_with_uncompressed_keys() -> None:
    full = [PrivateKey(bytes([i + 1]) * 32)._key.public_key.format(compressed=False) for i in range(3)]
    for t in (Micropay2Escrow(payer=full[0], vts=full[1]),
              Micropay2Escrow(payer=full[0], vts_keys=(full[1], full[2]), threshold=2, expiry=Expiry(900))):
        assert t.script == _reference_script(t)


# --- a2 by its pattern, against Core's Solver --------------------------------------------------------

_A2_KINDS = {"pubkeyhash", "scripthash", "witness_v0_keyhash", "witness_v0_scripthash", "witness_v1_taproot"}


def _a2_scripts() -> list[bytes]:
    rng = random.Random(2)
    shapes = [b"\x76\xa9\x14" + bytes(20) + b"\x88\xac", b"\xa9\x14" + bytes(20) + b"\x87", b"\x00\x14" + bytes(20),
              b"\x00\x20" + bytes(32), b"\x51\x20" + bytes(32), b"\x52\x20" + bytes(32), b"\x00\x15" + bytes(21),
              b"\x51\x02\x4e\x73", b"\x6a\x04\x01\x02\x03\x04", b"\x21" + KEYS[0] + b"\xac"]
    out = []
    for s in shapes:
        out.append(s)
        for _ in range(200):  # one byte changed, one added or one dropped
            b = bytearray(s)
            op = rng.randrange(3)
            i = rng.randrange(len(b))
            if op == 0:
                b[i] = rng.randrange(256)
            elif op == 1:
                b.insert(i, rng.randrange(256))
            elif len(b) > 1:
                del b[i]
            out.append(bytes(b))
    out += [bytes(rng.randrange(256) for _ in range(rng.randrange(40))) for _ in range(2000)]
    return out


def test_a2_pattern_is_the_solvers_address_kinds_with_cores_dust() -> None:
    from btcmicro.lottery.micropay2.messages import _a2_dust
    from btcmicro.script.standard import solve
    from btcmicro.tx.policy import dust_threshold

    for spk in _a2_scripts():
        want = dust_threshold(spk) if solve(spk)[0] in _A2_KINDS else None
        assert _a2_dust(spk) == want, spk.hex()


# --- decoders in one pass, against the Reader ---------------------------------------------------------


def _reference_ticket(data: bytes) -> object:
    from btcmicro.lottery.common import R_SIZE
    from btcmicro.lottery.micropay2.messages import (
        NONCE_SIZE,
        TICKET_TAG,
        Ticket,
        _check_amount,
        _check_claim_value,
        _check_k,
        _Reader,
    )

    r = _Reader(data, TICKET_TAG, "ticket")
    escrow = r.escrow()
    head = r.take(NONCE_SIZE + 1 + 8 + 32, "nonce, k, price, c")
    nonce, k, price, c = head[:16], head[16], int.from_bytes(head[17:25], "big"), head[25:]
    a2 = r.a2()
    tail = r.take(R_SIZE + 8, "r2, claim_value")
    r2, claim_value = tail[:16], int.from_bytes(tail[16:], "big")
    sigma, sigma1 = r.signed_end()
    _check_k(k, "ticket")
    _check_amount(price, "price", "ticket")
    _check_claim_value(escrow, claim_value, "ticket")
    return Ticket(escrow, nonce, k, price, c, a2, r2, claim_value, sigma, sigma1)


def _reference_claim(data: bytes) -> object:
    from btcmicro.lottery.common import R_SIZE
    from btcmicro.lottery.micropay2.messages import CLAIM_TAG, ClaimWitness, _check_claim_value, _check_k, _Reader

    r = _Reader(data, CLAIM_TAG, "claim")
    escrow = r.escrow()
    head = r.take(32 + 2 * R_SIZE + 1, "c, r1, r2, k")
    c, r1, r2, k = head[:32], head[32:48], head[48:64], head[64]
    a2 = r.a2()
    claim_value = r.u64("claim_value")
    sigma, sigma1 = r.signed_end()
    _check_k(k, "claim")
    _check_claim_value(escrow, claim_value, "claim")
    return ClaimWitness(escrow, c, r1, r2, k, a2, claim_value, sigma, sigma1)


def _outcome(fn: object, data: bytes) -> tuple[str, object]:
    from btcmicro.core.errors import ProtocolError

    try:
        return "ok", fn(data)  # type: ignore[operator]
    except ProtocolError as e:
        return "refused", (e.code, e.detail)


def _mutations(data: bytes, rng: random.Random, n: int) -> list[bytes]:
    out = [data[:i] for i in range(len(data))] + [data + b"\x00", data + data]
    for _ in range(n):
        b = bytearray(data)
        for _ in range(rng.randrange(1, 3)):
            i = rng.randrange(len(b))
            op = rng.randrange(3)
            if op == 0:
                b[i] = rng.randrange(256)
            elif op == 1:
                b.insert(i, rng.randrange(256))
            else:
                del b[i]
        out.append(bytes(b))
    return out


@pytest.mark.parametrize("wrapping,n,threshold,expiry", [("p2wsh", 1, 1, 700), ("p2sh", 1, 1, None),
                                                         ("p2sh-p2wsh", 3, 2, 1_700_000_000), ("bare", 1, 1, None)])
def test_ticket_and_claim_decoders_refuse_and_accept_as_the_reader_does(wrapping: str, n: int, threshold: int,
                                                                        expiry: int | None) -> None:
    from btcmicro.lottery.micropay2 import ClaimWitness, EscrowRef, Ticket, messages
    from btcmicro.script.standard import p2wpkh

    rng = random.Random(3)
    payer_key = PrivateKey(bytes([9]) * 32)
    tpl = Micropay2Escrow(payer=payer_key.pubkey, vts_keys=tuple(KEYS[1:n + 1]), threshold=threshold,
                          expiry=None if expiry is None else Expiry(expiry))
    escrow = EscrowRef("ab" * 32, 1, 1_000_000, tpl, wrapping)
    sig = payer_key.sign(bytes(32))
    t = Ticket(escrow, bytes(16), 7, 1_000, bytes(32), bytes(p2wpkh(KEYS[5])), bytes(16), 999_000, sig, sig)
    x = t.witness(bytes(16))
    for data, fast, ref in ((t.encode(), Ticket.decode, _reference_ticket),
                            (x.encode(), ClaimWitness.decode, _reference_claim)):
        for m in [data, *_mutations(data, rng, 1500)]:
            messages._escrow_from_bytes.cache_clear()
            got, want = _outcome(fast, m), _outcome(ref, m)
            assert got == want, m.hex()
            if got[0] == "ok":
                assert got[1].encode() == m  # type: ignore[attr-defined]


def test_escrows_built_without_the_constructors_equal_the_constructors() -> None:
    from btcmicro.lottery.micropay2 import EscrowRef, messages

    for n, k, expiry, wrapping in [(1, 1, None, "p2wsh"), (1, 1, 900, "p2sh-p2wsh"), (3, 2, 1_700_000_000, "p2wsh"),
                                   (20, 20, 5, "p2wsh"), (2, 1, None, "p2sh"), (1, 1, None, "bare")]:
        tpl = Micropay2Escrow(payer=KEYS[0], vts_keys=tuple(KEYS[1:n + 1]), threshold=k,
                              expiry=None if expiry is None else Expiry(expiry))
        ref = EscrowRef("cd" * 32, 7, 123_456, tpl, wrapping)
        messages._escrow_from_bytes.cache_clear()
        got = messages._escrow_from_bytes(ref.encode())
        assert got == ref and got.template == tpl and hash(got) == hash(ref)
        assert got.template.__dict__.keys() >= {f for f in ("vts", "payer", "expiry", "vts_keys", "threshold")}
        assert (got.script, got.script_pubkey, got._sighash_parts, got._claim_weight_parts) == (
            ref.script, ref.script_pubkey, ref._sighash_parts, ref._claim_weight_parts)


# --- the merchant store's one-statement batch ------------------------------------------------------------


def test_merchant_store_batches_answer_as_ticket_by_ticket(tmp_path) -> None:
    """Random batches of new, replayed and winning tickets on a few escrows: the store's answers and
    rows are those of checking each ticket in turn (c seen → replayed; escrow won → escrow_won)."""
    from btcmicro.lottery.micropay2 import SQLiteMerchantStore
    from btcmicro.lottery.micropay2.store import Acceptance

    rng = random.Random(4)
    store = SQLiteMerchantStore(tmp_path / "m.sqlite")
    seen: set[bytes] = set()
    won: set[tuple[str, int]] = set()
    cs = [bytes([i]) * 32 for i in range(120)]
    for _ in range(150):
        batch = []
        for _ in range(rng.randrange(1, 9)):
            c = rng.choice(cs)
            esc = (f"{rng.randrange(12):064x}", rng.randrange(2))
            w = rng.random() < 0.05
            batch.append((Acceptance(c, esc[0], esc[1], w, 5_000, 2_000_000_000), b"ticket" if w else None))
        want = []
        for a, _ in batch:
            if a.c in seen:
                want.append("replayed")
            elif (a.txid, a.vout) in won:
                want.append("escrow_won")
            else:
                want.append("ok")
                seen.add(a.c)
                if a.won:
                    won.add((a.txid, a.vout))
        assert store.accept(batch) == want
    assert store.count() == (len(seen), len(won))
    assert all(store.seen(c) == (c in seen) for c in cs)
