"""``btcmicro bench vuf``: MICROPAY2-NI's merchant and VTS next to MicroCash's Table 1 and next to the
raw libsecp256k1 operations they contain, measured in the same interleaved rounds.

- **Merchant prove + ticket check**: :meth:`~btcmicro.lottery.vuf.Merchant.verify` on a ticket
  (strict decoding, ρ, t, the claim output, the escrow from the per-block cache, σ's BIP340 verify,
  the ECVRF proof on σ and the win test), with σ1 checked on every ticket (``always``, the default)
  and on winners only (``on_win``). It contains one BIP340 verify, one point decompression and three
  multiplications (Gamma = x·H, U = k·G, V = k·H), and one ECDSA verify with ``always``.
- **VTS check**: :meth:`~btcmicro.lottery.vuf.VTS.check` on a winning x's bytes (decoding, σ's BIP340
  verify, σ1's ECDSA verify, the ECVRF verification, the win test, the t-set look-up). The claims
  come from a payer of their own and the escrow and key caches are emptied before each round, so
  every check parses a new escrow and pk_esc, as a VTS does (the merchants' escrows are checked
  again, untimed, after that: a merchant sees its escrows many times). It contains
  one BIP340 verify, one ECDSA verify and ECVRF verify's three multiplications (U = s·G − c·Y as one
  double multiplication, V = s·H − c·Gamma as two).
- **Raw**: coincurve's point multiplication ``PublicKey.multiply``, base multiplication
  ``PublicKey.from_secret``, the double multiplication a·G + b·Q (one libsecp256k1 ECDSA
  public-key recovery, :func:`btcmicro.crypto.secp256k1.mul_add`), BIP340 verify
  (``PublicKeyXOnly.verify``) and ECDSA verify.

Times are **CPU time of this process** (``time.process_time``), the fair "per core" figure on a
machine other jobs share; the wall-clock rate of the same rounds is reported beside it. Each round
times every operation once; the median of the rounds is reported, and each ratio is the median of
the per-round ratios.
"""
from __future__ import annotations

import hashlib
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any, Literal

import coincurve

from btcmicro.core.keys import PrivateKey
from btcmicro.crypto.secp256k1 import mul_add
from btcmicro.lottery.micropay2.messages import _escrow_from_bytes as escrow_cache
from btcmicro.lottery.vuf import (
    PROOF_SIZE,
    VTS,
    EscrowRecord,
    EscrowStatus,
    Merchant,
    Payer,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVufVTSStore,
    Ticket,
    VufClaim,
)
from btcmicro.lottery.vuf import messages as vuf_messages
from btcmicro.script.standard import p2wpkh
from btcmicro.testing import NOW, FakeChain, ManualClock, counter_rng

__all__ = ["run_vuf_bench", "format_report", "TARGETS", "MICROCASH"]

TARGETS = {"merchant": 2_561, "vts": 2_617}
"""Tickets/s per core: MicroCash Table 1's best MICROPAY merchant and miner columns (C, Ed25519)."""
MICROCASH = {"ticket_bytes": 274, "winning_ticket_bytes": 355, "claim_tx_bytes": 605,
             "merchant": {"secp256k1": 1_328, "P-256": 2_399, "Ed25519": 2_561},
             "miner": {"secp256k1": 1_340, "P-256": 2_448, "Ed25519": 2_617}}

_K = 1  # rho = 1/2: half the tickets are winners, so the VTS has claims to check
_PRICE = 1_000


def _world(n: int, sigma1: Literal["always", "on_win"],
           payer_secret: bytes = b"b" * 32) -> tuple[Merchant, VTS, list[bytes], list[bytes]]:
    """A merchant and a VTS on a FakeChain; ``n`` tickets on ``n`` escrows of the payer
    ``payer_secret``; the winners' claims x."""
    chain = FakeChain()
    clock = ManualClock(NOW)
    vts = VTS(PrivateKey((7).to_bytes(32, "big")), SQLiteVufVTSStore(":memory:"))
    a_m = bytes(p2wpkh(PrivateKey((11).to_bytes(32, "big")).pubkey))
    merchant = Merchant(0x5EED, a_m, chain, SQLiteMerchantStore(":memory:"), [vts.pubkey], k=_K, price=_PRICE,
                        sigma1=sigma1, tip_poll_seconds=3600, clock=clock)
    payer = Payer(payer_secret, chain, SQLitePayerStore(":memory:"), vts.pubkey, clock=clock, rng=counter_rng(5))
    value = (_PRICE << _K) + 1_000
    recs = []
    for i in payer.store.reserve_indices(n):
        tpl = payer.template(i, NOW // 1000)
        txid = f"{i + 1:064x}"
        chain.add_output(txid, 0, value, tpl.output("p2wsh").script_pubkey, confirmations=2)
        recs.append(EscrowRecord(i, value, "p2wsh", tpl.script, txid, 0, EscrowStatus.LIVE, None, None, 0, None))
    payer.store.add_escrows(recs)
    payer.refresh()
    tickets: list[bytes] = []
    claims: list[bytes] = []
    for rec in payer.store.escrows():
        tk = payer.sign_ticket(payer.escrow_ref(rec), merchant.offer, value - 1_000, index=rec.index)
        tickets.append(tk.encode())
        t, acc, proof = merchant.verify(tk)  # also warms the escrow cache: the steady state
        if acc.won:
            claims.append(t.claim(merchant.offer, proof).encode())
    return merchant, vts, tickets, claims


def machine_description() -> str:
    """The CPU as ``lscpu`` names it (model, cores, MHz), Python and the kernel."""
    info: dict[str, str] = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    cpu = info.get("Model name") or platform.processor() or platform.machine()
    mhz = info.get("CPU max MHz") or info.get("CPU MHz")
    return (f"{cpu}{f' @ {mhz} MHz' if mhz else ''}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def _cpu(fn: Callable[[int], Any], n: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per call of ``fn(i)``, i = 0..n-1."""
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i)
    c1, w1 = time.process_time(), time.perf_counter()
    return (c1 - c0) / n * 1e6, (w1 - w0) / n * 1e6


def run_vuf_bench(*, n: int = 400, repeats: int = 5, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure; the report (see the module docstring)."""
    say = echo or (lambda m: None)
    say(f"building {n} tickets ...")
    merchant, _, tickets, _ = _world(n, "always")
    on_win = _world(n, "on_win")[0]
    # The VTS's claims come from escrows of a payer of their own, so no cache holds their keys.
    _, vts, _, claims = _world(n, "always", payer_secret=b"v" * 32)

    def forget_vts_escrows() -> None:
        """Every claim then names an escrow and a pk_esc the VTS meets for the first time, as a
        VTS does; the merchants' escrows are checked again (untimed) so they stay parsed, as in a
        merchant's steady state."""
        escrow_cache.cache_clear()
        vuf_messages._payer_keys.cache_clear()
        for m, ts in ((merchant, tickets), (on_win, tickets)):
            for t in ts:
                m.verify(t)

    key = coincurve.PrivateKey(b"\x01" * 32)
    point = coincurve.PublicKey.from_secret(b"\x02" * 32)
    scalars = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]  # full-size: multiply is variable-time
    msg = [bytes([i % 256]) * 32 for i in range(n)]
    big = [int.from_bytes(s, "big") for s in scalars]
    xonly = coincurve.PublicKeyXOnly(key.public_key.format()[1:])
    schnorr = [key.sign_schnorr(m, b"\x00" * 32) for m in msg]
    ecdsa_pub = key.public_key
    ecdsa = [key.sign(m, hasher=None) for m in msg]
    nc = len(claims)
    ops: dict[str, tuple[Callable[[int], Any], int]] = {
        "merchant_always": (lambda i: merchant.verify(tickets[i]), n),
        "merchant_on_win": (lambda i: on_win.verify(tickets[i]), n),
        "prove": (lambda i: merchant.prover.evaluate(Ticket.decode(tickets[i]).sigma), n),
        "vts_check": (lambda i: vts.check(claims[i]), nc),
        "raw_mul": (lambda i: point.multiply(scalars[i]), n),
        "raw_base_mul": (lambda i: coincurve.PublicKey.from_secret(scalars[i]), n),
        "raw_double_mul": (lambda i: mul_add(big[i], None, big[i - 1], point), n),
        "raw_bip340_verify": (lambda i: xonly.verify(schnorr[i], msg[i]), n),
        "raw_ecdsa_verify": (lambda i: ecdsa_pub.verify(ecdsa[i], msg[i], hasher=None), n),
    }
    cpu: dict[str, list[float]] = {k: [] for k in ops}
    wall: dict[str, list[float]] = {k: [] for k in ops}
    for r in range(repeats):
        say(f"round {r + 1}/{repeats}")
        forget_vts_escrows()
        for name, (fn, count) in ops.items():
            c, w = _cpu(fn, count)
            cpu[name].append(c)
            wall[name].append(w)
    med = {k: statistics.median(v) for k, v in cpu.items()}
    med_wall = {k: statistics.median(v) for k, v in wall.items()}

    def raw_merchant(i: int, with_ecdsa: bool) -> float:  # Gamma = x·H, V = k·H, U = k·G; σ (and σ1)
        return (2 * cpu["raw_mul"][i] + cpu["raw_base_mul"][i] + cpu["raw_bip340_verify"][i]
                + (cpu["raw_ecdsa_verify"][i] if with_ecdsa else 0.0))

    def raw_vts(i: int) -> float:  # U = s·G - c·Y (one double multiplication), V = s·H - c·Gamma; σ, σ1
        return (cpu["raw_double_mul"][i] + 2 * cpu["raw_mul"][i] + cpu["raw_bip340_verify"][i]
                + cpu["raw_ecdsa_verify"][i])

    def ratio(name: str, raw: Callable[[int], float]) -> float:
        return statistics.median(cpu[name][i] / raw(i) for i in range(repeats))

    x = VufClaim.decode(claims[0])
    sample = Ticket.decode(tickets[0])
    report: dict[str, Any] = {
        "machine": machine_description(),
        "n": n, "repeats": repeats, "claims": nc, "k": _K,
        "us_cpu": med, "us_wall": med_wall,
        "per_s_cpu": {k: 1e6 / v for k, v in med.items()},
        "per_s_wall": {k: 1e6 / v for k, v in med_wall.items()},
        "ratios": {
            "merchant_always / (2 mul + base mul + BIP340 verify + ECDSA verify)":
                ratio("merchant_always", lambda i: raw_merchant(i, True)),
            "merchant_on_win / (2 mul + base mul + BIP340 verify)":
                ratio("merchant_on_win", lambda i: raw_merchant(i, False)),
            "prove / (2 mul + base mul)":
                ratio("prove", lambda i: 2 * cpu["raw_mul"][i] + cpu["raw_base_mul"][i]),
            "vts_check / (double mul + 2 mul + BIP340 verify + ECDSA verify)": ratio("vts_check", raw_vts),
        },
        "sizes": {"proof": len(x.proof), "ticket": len(sample.encode()), "claim_x": len(claims[0]),
                  "offer": len(merchant.offer.encode()), "sigma": len(sample.sigma), "sigma1": len(sample.sigma1)},
        "microcash": MICROCASH,
        "targets": TARGETS,
    }
    assert report["sizes"]["proof"] == PROOF_SIZE == 81
    report["met"] = {
        "merchant_always": report["per_s_cpu"]["merchant_always"] >= TARGETS["merchant"],
        "merchant_on_win": report["per_s_cpu"]["merchant_on_win"] >= TARGETS["merchant"],
        "vts_check": report["per_s_cpu"]["vts_check"] >= TARGETS["vts"],
    }
    return report


def format_report(r: dict[str, Any]) -> str:
    ps, pw, us = r["per_s_cpu"], r["per_s_wall"], r["us_cpu"]
    lines = [f"MICROPAY2-NI (VUF) on {r['machine']}",
             f"{r['n']} tickets x {r['repeats']} interleaved rounds, {r['claims']} winning claims, rho = 2^-{r['k']}",
             "", f"{'operation':<42}{'us (CPU)':>10}{'/s per core':>13}{'/s wall':>10}"]
    names = {"merchant_always": "merchant prove + ticket check (sigma1 always)",
             "merchant_on_win": "merchant prove + ticket check (sigma1 on win)",
             "prove": "merchant prove alone (ECVRF)", "vts_check": "VTS check",
             "raw_mul": "raw point multiplication", "raw_base_mul": "raw base multiplication",
             "raw_double_mul": "raw double multiplication a·G + b·Q",
             "raw_bip340_verify": "raw BIP340 verify", "raw_ecdsa_verify": "raw ECDSA verify"}
    for k, label in names.items():
        lines.append(f"{label:<42}{us[k]:>10.1f}{ps[k]:>13,.0f}{pw[k]:>10,.0f}")
    lines += ["", "ratios (same rounds):"] + [f"  {k}: {v:.2f}x" for k, v in r["ratios"].items()]
    s = r["sizes"]
    lines += ["", f"sizes: proof {s['proof']} B, ticket {s['ticket']} B (MicroCash's MICROPAY: 274 B), "
              f"claim x {s['claim_x']} B (MicroCash's winning ticket: 355 B), offer {s['offer']} B"]
    t, met = r["targets"], {k: "met" if v else "NOT met" for k, v in r["met"].items()}
    lines += [f"target merchant >= {t['merchant']:,}/s per core: "
              f"always {met['merchant_always']}, on_win {met['merchant_on_win']}",
              f"target VTS check >= {t['vts']:,}/s per core: {met['vts_check']}"]
    return "\n".join(lines)
