"""``btcmicro bench micropay1``: MICROPAY1-sub's Make/Check Ticket next to the raw libsecp256k1
operations they contain (same interleaved rounds), and the on-chain cost of a win against MICROPAY2.

- **Make a Ticket**: :meth:`Payer.pay`: the lottery output's script, tx₁ signed (1 ECDSA sign) and
  σ (1 BIP340 sign): compared with 1 raw ECDSA sign + 1 raw BIP340 sign.
- **Check Ticket**: :meth:`Merchant.accept` on a :class:`~btcmicro.testing.FakeChain` (tx₁ decoded,
  the lottery output rebuilt, Π^esc: Com(r₁; s) and σ, 1 BIP340 verify); σ₁ is judged by the node
  (``testmempoolaccept``), so on a node add one round trip: compared with 1 raw BIP340 verify.
- **On chain per win**: the claim package tx₁ (escrow → lottery output) + tx₂ (lottery output → a₂).
  tx₂'s size depends on the preimages (|s_j| = 16 + v_j): the figures give the lightest (all
  v_j = 0), the mean over this run's wins and the heaviest (all v_j at their chunk's maximum), at
  ρ = 1/128 (chunks 6, 1) and 1/512 (6, 3); MICROPAY2's claim (149 vB) is one transaction.
"""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import coincurve
from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CTransaction

from btcmicro.bench.engine import machine_description
from btcmicro.contracts import Expiry
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto.commitment import chunk_bits
from btcmicro.lottery.micropay1 import (
    LotteryOutput,
    Merchant,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    guesses_of,
    vsize,
)
from btcmicro.lottery.micropay2.messages import EscrowRef, claim_vsize
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.script.standard import p2wpkh
from btcmicro.testing import FakeChain
from btcmicro.tx.sign import sign_p2wpkh

__all__ = ["run_micropay1_bench", "format_report", "package_vsizes", "FEERATES"]

VALUE = 100_000
GENESIS = bytes(32)
#: sat/vB figures for the fee per win
FEERATES = (1, 2, 10)
_KEYS = [PrivateKey((i).to_bytes(32, "big")) for i in (3, 4, 5)]


def _time(fn: Callable[[int], Any], n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n * 1e6


def _tx1_vsize() -> int:
    """tx₁ with a 72-byte signature (the worst case) paying one P2WSH output."""
    tx = CMutableTransaction([CMutableTxIn(COutPoint(b"\x01" * 32, 0))], [CMutableTxOut(1, b"\x00\x20" + bytes(32))],
                             nVersion=2)
    sign_p2wpkh(tx, 0, _KEYS[0], VALUE)
    tx.wit.vtxinwit[0].scriptWitness.stack[0] = b"\x30" * 72
    return vsize(CTransaction.from_tx(tx))


def _tx2_vsize(k: int, guesses: tuple[int, ...]) -> int:
    lo = LotteryOutput(tuple(bytes([i]) * 32 for i in range(len(guesses))), guesses, _KEYS[1].pubkey,
                       _KEYS[2].pubkey, 144)
    tx = CMutableTransaction([CMutableTxIn(COutPoint(b"\x02" * 32, 0))], [CMutableTxOut(1, p2wpkh(_KEYS[1].pubkey))],
                             nVersion=2)
    lo.claim(b"\x30" * 72, [bytes(16 + u) for u in guesses]).apply(tx, 0)
    return vsize(CTransaction.from_tx(tx))


def package_vsizes(k: int) -> dict[str, int]:
    """tx₁ + tx₂ vbytes (72-byte signatures) at ρ = 2^-k, lightest and heaviest preimages."""
    bits = chunk_bits(k)
    t1 = _tx1_vsize()
    light = _tx2_vsize(k, tuple(0 for _ in bits))
    heavy = _tx2_vsize(k, tuple((1 << b) - 1 for b in bits))
    return {"tx1": t1, "tx2_min": light, "tx2_max": heavy, "package_min": t1 + light, "package_max": t1 + heavy}


def _world(k: int) -> tuple[FakeChain, Payer, Merchant]:
    chain = FakeChain()
    payer = Payer(b"p" * 32, chain, SQLitePayerStore(":memory:", synchronous="OFF"), None, genesis=GENESIS,
                  rng=os.urandom, delay=144)
    merchant = Merchant(b"m" * 32, chain, SQLiteMerchantStore(":memory:", synchronous="OFF"), k=k, genesis=GENESIS,
                        rng=os.urandom, submit_package=lambda txs: None)
    return chain, payer, merchant


def _escrow(chain: FakeChain, payer: Payer, i: int) -> Any:
    txid = f"{i + 1:064x}"
    chain.add_output(txid, 0, VALUE, bytes(p2wpkh(payer._key(i).pubkey)), confirmations=6)
    return payer.adopt(txid, 0, VALUE, i)


def _micro(n: int, repeats: int, k: int) -> dict[str, Any]:
    chain, payer, merchant = _world(k)
    escrows = [_escrow(chain, payer, i) for i in range(n * repeats)]
    requests = [merchant.request() for _ in range(n * repeats)]
    tickets: list[Any] = []
    ecdsa = coincurve.PrivateKey(os.urandom(32))
    schnorr = coincurve.PrivateKey(os.urandom(32))
    msg = os.urandom(32)
    der = ecdsa.sign(msg, hasher=None)
    sig = schnorr.sign_schnorr(msg, os.urandom(32))
    xonly = coincurve.PublicKeyXOnly.from_secret(schnorr.secret)
    out: dict[str, list[float]] = {"Make a Ticket": [], "Check Ticket": [], "raw ECDSA sign": [],
                                   "raw BIP340 sign": [], "raw BIP340 verify": []}
    wins: list[tuple[int, int]] = []
    for r in range(repeats):
        base = r * n

        def make(i: int, b: int = base) -> None:
            tickets.append(payer.pay(requests[b + i], escrows[b + i]))

        def check(i: int, b: int = base) -> None:
            merchant.accept(tickets[b + i])

        out["Make a Ticket"].append(_time(make, n))
        out["Check Ticket"].append(_time(check, n))
        out["raw ECDSA sign"].append(_time(lambda i: ecdsa.sign(msg, hasher=None), n))
        out["raw BIP340 sign"].append(_time(lambda i: schnorr.sign_schnorr(msg, msg), n))
        out["raw BIP340 verify"].append(_time(lambda i: xonly.verify(sig, msg), n))
    assert der
    for t in tickets:
        if merchant.record(t.request_id).state.value == "won":
            tx1, tx2 = merchant.claim_package(t.request_id)
            wins.append((vsize(tx1), vsize(tx2)))
    med = {name: statistics.median(v) for name, v in out.items()}
    ratios = {
        "Make a Ticket": statistics.median(m / (s + b) for m, s, b in zip(
            out["Make a Ticket"], out["raw ECDSA sign"], out["raw BIP340 sign"], strict=True)),
        "Check Ticket": statistics.median(c / v for c, v in zip(
            out["Check Ticket"], out["raw BIP340 verify"], strict=True)),
    }
    return {"us": med, "ratios": ratios, "tickets": len(tickets), "wins": len(wins),
            "win_package_vbytes": [a + b for a, b in wins]}


def _guesses_check(k: int) -> None:
    assert guesses_of(bytes(16), k) == tuple(0 for _ in chunk_bits(k))


def run_micropay1_bench(*, quick: bool = False, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The whole benchmark as a dict (``format_report`` prints it)."""
    say = echo or (lambda m: None)
    n = 100 if quick else 1_000
    repeats = 3 if quick else 5
    say(f"micro-benchmarks: {n} tickets per round, {repeats} interleaved rounds, rho = 1/4 (wins to size)")
    micro = _micro(n, repeats, 2)
    say("on-chain cost per win")
    pk = _KEYS[0].pubkey
    ref2 = EscrowRef("ab" * 32, 0, VALUE, Micropay2Escrow(payer=pk, vts_keys=(_KEYS[1].pubkey,), threshold=1,
                                                          expiry=Expiry(10_000)), "p2wsh")
    m2 = claim_vsize(ref2, bytes(p2wpkh(pk)))
    onchain: dict[str, Any] = {"micropay2_claim_vbytes": m2}
    for k in (7, 9):
        _guesses_check(k)
        v = package_vsizes(k)
        v["fees_max"] = {f"{f} sat/vB": v["package_max"] * f for f in FEERATES}  # type: ignore[assignment]
        v["ratio_max_vs_micropay2"] = round(v["package_max"] / m2, 2)  # type: ignore[assignment]
        onchain[f"rho=1/{1 << k}"] = v
    onchain["micropay2_fees"] = {f"{f} sat/vB": m2 * f for f in FEERATES}
    return {"machine": machine_description(), "micro": micro, "onchain": onchain}


def format_report(r: dict[str, Any]) -> str:
    m, oc = r["micro"], r["onchain"]
    us, ratios = m["us"], m["ratios"]
    lines = [f"machine: {r['machine']}", "",
             f"{'operation':<16}{'µs':>10}   raw operations it contains",
             f"{'Make a Ticket':<16}{us['Make a Ticket']:>10.1f}   1 ECDSA sign + 1 BIP340 sign = "
             f"{us['raw ECDSA sign'] + us['raw BIP340 sign']:.1f} µs   ratio {ratios['Make a Ticket']:.2f}",
             f"{'Check Ticket':<16}{us['Check Ticket']:>10.1f}   1 BIP340 verify = {us['raw BIP340 verify']:.1f} µs"
             f"   ratio {ratios['Check Ticket']:.2f} (σ₁ is judged by the node: add one testmempoolaccept)",
             "", "on chain per win (72-byte signatures)   tx1 + tx2 = package vB   vs MICROPAY2's claim "
             f"{oc['micropay2_claim_vbytes']} vB"]
    for key in ("rho=1/128", "rho=1/512"):
        v = oc[key]
        fees = ", ".join(f"{s} sat at {f}" for f, s in v["fees_max"].items())
        lines.append(f"  {key}: {v['tx1']} + {v['tx2_min']}..{v['tx2_max']} = {v['package_min']}..{v['package_max']}"
                     f" vB ({v['ratio_max_vs_micropay2']}x at most); fees at most: {fees}")
    fees2 = ", ".join(f"{s} sat at {f}" for f, s in oc["micropay2_fees"].items())
    lines.append(f"  MICROPAY2 claim: {oc['micropay2_claim_vbytes']} vB; fees: {fees2}")
    if m["win_package_vbytes"]:
        lines.append(f"  this run (rho = 1/4, one chunk of 2 bits): {m['wins']} wins, package mean "
                     f"{statistics.mean(m['win_package_vbytes']):.1f} vB")
    return "\n".join(lines)

