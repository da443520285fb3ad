"""``btcmicro bench micropay3``: Make/Check Ticket and the VTS check next to the raw signs and
verifies they contain (same interleaved rounds), and the on-chain cost of a win against MICROPAY2.

Timing is MICROPAY2's (``bench micropay2``): CPU time of the process, five rounds, each round run
in 20 slices so an operation and its raw operations run milliseconds apart; a ratio is taken
within each round and the median reported with the range. pk_2 and pk_M are fresh per ticket, so
the cache of parsed escrow-2 keys is emptied before each round.

- **Make a Ticket**: :meth:`Payer.sign_ticket`: pk_2 (a fresh key per ticket: one point
  multiplication k·G), r2, escrow 2's script, σ (a sign) and σ1 (tx_1's SIGHASH_SINGLE|ANYONECANPAY
  digest, a sign): compared with 2 raw signs + 1 raw k·G.
- **Check Ticket**: :meth:`Merchant.verify`: strict decoding, the opening of c, escrow 2's keys
  (pk_2 parsed as a point, pk_M proved by the opening, pk_T the trusted key), σ and σ1 (2
  verifies), escrow 1 on a :class:`~btcmicro.testing.FakeChain`: compared with 2 raw verifies.
- **VTS Check** (only on deviation): :meth:`Micropay3VTS.check_prize` (decoding, tx_1 parsed, σ:
  1 verify) plus σ_T (1 sign): compared with 1 raw verify + 1 raw sign.
- **On chain per win**: MICROPAY3 pays two transactions (tx_1 escrow 1 → escrow 2, tx_2 escrow 2 →
  a_M); MICROPAY2 one claim. vbytes are the signed transactions' (signatures as made) and the
  worst-case estimates (72-byte signatures) the parties budget fees with; fees at the same feerate.
"""
from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import coincurve
from bitcoin.core import CTransaction

from btcmicro.bench.engine import machine_description
from btcmicro.bench.micropay2 import _rounds
from btcmicro.contracts import Expiry
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.common import verify_sig
from btcmicro.lottery.micropay2.messages import EscrowRef, claim_vsize
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.lottery.micropay3 import (
    EscrowRecord,
    EscrowStatus,
    Merchant,
    Micropay3VTS,
    Payer,
    PayerEvent,
    Prize,
    SQLiteMerchantStore,
    SQLiteMicropay3VTSStore,
    SQLitePayerStore,
    messages,
    release_vsize,
    tx1_vsize,
    wins_of,
)
from btcmicro.script.standard import p2wpkh
from btcmicro.testing import FakeChain
from btcmicro.tx.size import fee_for, vsize

__all__ = ["run_micropay3_bench", "format_report"]

PRICE = 1_000
K = 7
FEERATE = 2_000


def _world(n: int) -> tuple[FakeChain, Payer, Merchant, Micropay3VTS]:
    chain = FakeChain()
    vts = Micropay3VTS(PrivateKey((7).to_bytes(32, "big")), SQLiteMicropay3VTSStore(":memory:"), chain)
    payer = Payer(b"p" * 32, chain, SQLitePayerStore(":memory:"), [vts.pubkey], feerate=FEERATE,
                  max_overpay=Fraction(1, 2), max_k=K)
    merchant = Merchant(b"m" * 32, chain, SQLiteMerchantStore(":memory:"), vts.pubkey, price=PRICE, k=K)
    for i in payer.store.reserve_indices(n):
        value = (PRICE << K) + 2_000
        txid = f"{i + 1:064x}"
        payer.store.add_escrows([EscrowRecord(i, value, None, None, EscrowStatus.FUNDING, None, 0, None, None)])
        payer.handle(i, PayerEvent.BROADCAST, txid=txid, vout=0)
        payer.handle(i, PayerEvent.CONFIRMED, height=chain.tip)
        chain.add_output(txid, 0, value, bytes(p2wpkh(payer.escrow_key(i).pubkey)))
    return chain, payer, merchant, vts


def _micro(n: int, repeats: int) -> dict[str, Any]:
    chain, payer, merchant, vts = _world(max(16, n // 8))
    recs = payer.store.escrows(EscrowStatus.LIVE)
    refs = [payer.escrow_ref(r) for r in recs]
    reqs = [merchant.request() for _ in range(n)]
    tickets = [payer.sign_ticket(refs[i % len(refs)], recs[i % len(recs)].index, i, reqs[i]).encode()
               for i in range(n)]
    xs: list[bytes] = []
    i = 0
    while len(xs) < max(20, n // 10):  # winning x's at rho = 1/2
        req = merchant.request(k=1)
        t = payer.sign_ticket(refs[i % len(refs)], recs[i % len(recs)].index, 10**6 + i, req)
        i += 1
        if wins_of(merchant, t):
            xs.append(Prize(t, merchant.r1(t), t.tx1().serialize()).encode())
    key = PrivateKey.generate()
    digests = [os.urandom(32) for _ in range(n)]
    sigs = [key.sign(d) for d in digests]
    pk = key.pubkey

    def vts_check(j: int) -> None:
        x = vts.check_prize(xs[j])
        vts.key.sign(x.release_sighash())

    ops: dict[str, tuple[Callable[[int], Any], int]] = {
        "raw sign": (lambda j: key.sign(digests[j]), n),
        "raw verify": (lambda j: verify_sig(pk, sigs[j], digests[j]), n),
        "raw k·G": (lambda j: coincurve.PublicKey.from_secret(digests[j]), n),
        "Make a Ticket": (lambda j: payer.sign_ticket(refs[j % len(refs)], recs[j % len(recs)].index, j, reqs[j]), n),
        "Check Ticket": (lambda j: merchant.verify(tickets[j]), n),
        "VTS Check": (vts_check, len(xs)),
    }
    # Every pk_2 and pk_M is fresh per ticket: no round may find them parsed by the one before.
    runs = _rounds(ops, repeats, before=messages._valid_point.cache_clear)
    out: dict[str, Any] = {name: statistics.median(v) for name, v in runs.items()}
    raw = {"Make a Ticket": [2 * s + g for s, g in zip(runs["raw sign"], runs["raw k·G"], strict=True)],
           "Check Ticket": [2 * v for v in runs["raw verify"]],
           "VTS Check": [v + s for v, s in zip(runs["raw verify"], runs["raw sign"], strict=True)]}
    per_round = {name: [op / r for op, r in zip(runs[name], base, strict=True)] for name, base in raw.items()}
    out["ratios"] = {name: statistics.median(rs) for name, rs in per_round.items()}
    out["ratio_range"] = {name: [min(rs), max(rs)] for name, rs in per_round.items()}
    out["sizes"] = {"request": len(reqs[0].encode()), "ticket": len(tickets[0]), "prize": len(xs[0])}
    return out


def _onchain() -> dict[str, Any]:
    """tx_1 + tx_2 of one win (signed on FakeChain, happy and abort paths) next to MICROPAY2's claim."""
    chain, payer, merchant, vts = _world(2)
    out: dict[str, Any] = {"feerate_sat_per_kvb": FEERATE}
    for path in ("happy", "abort"):
        payer.refresh()
        while True:
            t = payer.pay(merchant.request())
            acc = merchant.check(t)
            if acc.won:
                break
        tx1_hex = t.tx1().serialize().hex()
        merchant.broadcast_tx1(acc.c)
        chain.mine()
        txid2 = merchant.claim_with_payer(acc.c, payer) if path == "happy" else merchant.resolve_aborted(acc.c, vts)
        st = chain.get_tx(txid2)
        assert st is not None
        v1 = vsize(CTransaction.deserialize(bytes.fromhex(tx1_hex)))
        v2 = vsize(CTransaction.deserialize(bytes.fromhex(st.hex)))
        fee1 = t.escrow.value - t.escrow2_value
        fee2 = t.escrow2_value - t.prize_value
        out[path] = {"tx1_vbytes": v1, "tx2_vbytes": v2, "vbytes": v1 + v2, "fees": fee1 + fee2,
                     "estimate_vbytes": tx1_vsize() + release_vsize(t.escrow2, t.a_m)}
    pk = PrivateKey((3).to_bytes(32, "big")).pubkey
    ref2 = EscrowRef("ab" * 32, 0, (PRICE << K) + 2_000, Micropay2Escrow(payer=pk, vts_keys=(vts.pubkey,),
                                                                        threshold=1, expiry=Expiry(10_000)), "p2wsh")
    a2 = bytes(p2wpkh(pk))
    m2 = claim_vsize(ref2, a2)
    out["micropay2_claim"] = {"estimate_vbytes": m2, "fees": fee_for(m2, FEERATE)}
    out["ratio_vbytes"] = out["happy"]["estimate_vbytes"] / m2
    return out


def run_micropay3_bench(*, quick: bool = False, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The whole benchmark as a dict (``format_report`` prints it)."""
    say = echo or (lambda m: None)
    n = 300 if quick else 3_000
    say(f"micro-benchmarks: {n} iterations, {3 if quick else 5} interleaved rounds of 20 slices (CPU time)")
    micro = _micro(n, 3 if quick else 5)
    say("on-chain cost per win")
    onchain = _onchain()
    targets = [{"target": f"{name} within 1.5x of its raw operations", "value": micro["ratios"][name], "limit": 1.5,
                "ok": micro["ratios"][name] <= 1.5} for name in ("Make a Ticket", "Check Ticket")]
    return {"machine": machine_description(), "iterations": n, "micro": micro, "onchain": onchain,
            "targets": targets}


def format_report(r: dict[str, Any]) -> str:
    m, oc = r["micro"], r["onchain"]
    sign, verify = m["raw sign"], m["raw verify"]
    raw = {"Make a Ticket": f"2 signs + 1 k·G (pk_2) = {2 * sign + m['raw k·G']:.1f}",
           "Check Ticket": f"2 verifies = {2 * verify:.1f}",
           "VTS Check": f"1 verify + 1 sign = {verify + sign:.1f} (only on deviation)"}
    lines = [f"MICROPAY3 micro-benchmarks, one core, µs of CPU time per operation ({r['iterations']:,} iterations; "
             "ratio: median of the ratios within a round, and their range)", f"machine: {r['machine']}", "",
             f"{'operation':<16}{'ours':>9}{'ratio':>7}{'range':>12}   raw operations in it (same rounds)"]
    for name in ("Make a Ticket", "Check Ticket", "VTS Check"):
        lo, hi = m["ratio_range"][name]
        lines.append(f"{name:<16}{m[name]:>9.1f}{m['ratios'][name]:>7.2f}{f'{lo:.2f}–{hi:.2f}':>12}   {raw[name]}")
    lines.append(f"raw sign / verify / k·G: {sign:.1f} / {verify:.1f} / {m['raw k·G']:.1f}")
    s = m["sizes"]
    lines += ["", f"sizes: request {s['request']} B, ticket {s['ticket']} B, prize x {s['prize']} B (binary)", "",
              f"on chain per win at {oc['feerate_sat_per_kvb']} sat/kvB:"]
    for path in ("happy", "abort"):
        p = oc[path]
        lines.append(f"  MICROPAY3 {path:<6} tx_1 {p['tx1_vbytes']} vB + tx_2 {p['tx2_vbytes']} vB = {p['vbytes']} vB "
                     f"(budgeted {p['estimate_vbytes']} vB), fees {p['fees']} sats")
    c2 = oc["micropay2_claim"]
    lines.append(f"  MICROPAY2 claim   {c2['estimate_vbytes']} vB (budgeted), fee {c2['fees']} sats; "
                 f"MICROPAY3 / MICROPAY2 = {oc['ratio_vbytes']:.2f}x")
    lines += ["", "targets:"]
    lines += [f"  [{'PASS' if t['ok'] else 'FAIL'}] {t['target']}: {t['value']:.2f} (limit {t['limit']})"
              for t in r["targets"]]
    return "\n".join(lines)
