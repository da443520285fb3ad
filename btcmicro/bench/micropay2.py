"""``btcmicro bench micropay2``: the paper's §4.2 table and §4.3 web experiment, ours next to theirs.

**Micro-benchmarks** (one core, one thread): each of the paper's operations by its name, next to
the paper's figure (Go, Intel i7-4558U, 2015) and next to the raw signature operations it contains
(a raw ECDSA sign and verify through coincurve/libsecp256k1), measured as CPU time of this process
in the same finely interleaved rounds (:func:`_rounds`), so the ratio says how much the protocol
adds to the unavoidable cryptography:

- Request Ticket: :meth:`Merchant.request` with a fresh P2WPKH address (HMAC r1, SHA256, one EC
  key derivation); Request Ticket (Fast): the same with one reused address;
- Make a Ticket: :meth:`Payer.sign_ticket` (r2, σ, σ1: two signatures);
- Check Ticket: :meth:`Merchant.verify`: decoding, every check, σ and σ1 (two verifies), and the
  escrow's chain state from the merchant's per-block cache; also with ``sigma1="on_win"``;
- VTS Check: :meth:`VTS.check` on an x naming an escrow never seen before (its contract parsed and
  checked, pk_esc parsed; the claims come from a world of their own, ``VTS_SEED``) plus σ_T (two
  verifies and one sign); the durable claim (``claim``, board entry
  committed with ``synchronous=FULL``) is measured as claims per second.

Ticket checks per second are measured with the merchant's store on a file: one commit per ticket
(FULL and NORMAL) and :meth:`Merchant.check_many` batches of 64 under FULL (the group commit the
web server uses).

**The web experiment** runs the merchant server (:func:`~btcmicro.service.merchant.create_merchant_app`)
in its own process (:class:`~btcmicro.bench.load.ServerProcess`, one uvicorn worker) and the bounded
load generator (:func:`~btcmicro.bench.load.run_load`) in this one, on loopback: ``/base`` alone,
the paper's control (``/ask`` then ``/base``) and experiment (``/ask`` then ``/buy``, the ticket
made in between by a payer in this process). The merchant's store is a file with
``synchronous=FULL``. Escrows live on a :class:`~btcmicro.testing.FakeChain` both processes build from one seed (the
merchant caches escrow state per block, so a node would not be asked either).

It runs in two regimes. **Capacity**: 8 connections back to back, the server saturated; the rates
then compare what each transaction costs the server, whose CPU time per transaction is read from
``/proc`` (and, for the control and the experiment, once more in short alternating rounds,
:func:`_cpu_rounds`, so that a shared machine's drift weighs on both alike: the figure the
target "``/buy`` costs at most the control plus two verifies plus 100 µs" is judged on).
**The paper's load**: 534 transactions/s (the paper's ``/base`` rate) offered on 20 connections
(its 20 client threads), a load the server carries; the rates then match and the ticket
shows in the latency, as in the paper, whose server was not saturated either.
:func:`web_capacity_bound` gives the best capacity ratio a ``/buy`` could keep if it added nothing
to ``/base`` but its two signature verifications.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from btcmicro.bench.engine import machine_description
from btcmicro.bench.load import Request, ServerProcess, measure_ceiling, run_load
from btcmicro.core.hashes import sha256
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery import common
from btcmicro.lottery.micropay2 import (
    VTS,
    EscrowRecord,
    EscrowRef,
    EscrowStatus,
    Merchant,
    Payer,
    PaymentRequest,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVTSStore,
    Ticket,
    messages,
    verify_sig,
    wins,
)
from btcmicro.lottery.micropay2.store import MerchantStore
from btcmicro.service.merchant import create_merchant_app
from btcmicro.store.sqlite import Sync
from btcmicro.testing import FakeChain
from btcmicro.wire.base64url import b64decode, b64encode

__all__ = ["run_micropay2_bench", "format_report", "web_capacity_bound", "bench_world", "PAPER"]

PAPER = {"Request Ticket": 84.9, "Request Ticket (Fast)": 3.7, "Make a Ticket": 170.6, "Check Ticket": 437.6,
         "VTS Check": 496.1}
PAPER_SIZES = {"request": 73, "ticket": "398 ± 10"}
PAPER_WEB = {"/base": 534, "/buy": 497}
PAPER_CONNECTIONS = 20  # the paper's client: 20 threads, each with a pooled connection
K = 7  # rho = 1/128
PRICE = 1_000
VALUE = (PRICE << K) + 2_000
SEED = b"btcmicro/bench/micropay2/v1"
VTS_SEED = SEED + b"/vts-check"  # the claims the VTS checks are on escrows of a world of their own


# --- a world both processes can build ----------------------------------------------------------------


def bench_world(n: int, path: str = ":memory:", synchronous: Sync = "FULL",
                sigma1: Literal["always", "on_win"] = "always", fresh: bool = True, seed: bytes = SEED, *,
                store: MerchantStore | None = None, value: int = VALUE) -> tuple[Payer, Merchant, VTS, list[EscrowRef]]:
    """(payer, merchant, vts, escrows): ``n`` escrows of ``value`` funded "on" a fake chain at a fixed tip
    (what the merchant's per-block cache holds in steady state), all from ``seed`` (the same seed, the same
    world). The merchant's store is ``store``, else SQLite at ``path``."""
    chain = FakeChain(tip=1_000, mtp=int(time.time()))
    vts = VTS(PrivateKey(sha256(seed + b"vts")), SQLiteVTSStore(":memory:"))
    payer = Payer(sha256(seed + b"payer"), chain, SQLitePayerStore(":memory:"), [vts.pubkey],
                  max_price=PRICE, max_k=K)
    idx = payer.store.reserve_indices(n)
    recs = []
    for i in idx:
        t = payer.template(i, chain.tip + 10_000)
        recs.append(EscrowRecord(i, value, "p2wsh", t.script, sha256(seed + i.to_bytes(4, "big")).hex(), 0,
                                 EscrowStatus.LIVE, None, 0, chain.tip - 5, None))
    payer.store.add_escrows(recs)
    escrows = []
    for r in recs:
        ref = payer.escrow_ref(r)
        chain.add_output(ref.txid, ref.vout, value, ref.script_pubkey, confirmations=6)
        escrows.append(ref)
    merchant = Merchant(sha256(seed + b"merchant"), chain,
                        SQLiteMerchantStore(path, synchronous=synchronous) if store is None else store,
                        [vts.pubkey], price=PRICE, k=K, sigma1=sigma1, fresh_addresses=fresh,
                        tip_poll_seconds=3600)
    return payer, merchant, vts, escrows


def _web_app() -> Any:
    """The merchant server of the web experiment (a ServerProcess factory; settings from the environment)."""
    sync: Sync = "NORMAL" if os.environ.get("BTCMICRO_BENCH_SYNC", "FULL") == "NORMAL" else "FULL"
    escrows = int(os.environ["BTCMICRO_BENCH_ESCROWS"])
    _, merchant, vts, _ = bench_world(escrows, os.environ["BTCMICRO_BENCH_STORE"], sync)
    return create_merchant_app(merchant, [vts], claim_in_background=False)


# --- timing ------------------------------------------------------------------------------------------


def _rounds(ops: dict[str, tuple[Callable[[int], Any], int]], repeats: int = 5,
            before: Callable[[], Any] | None = None, slices: int = 20) -> dict[str, list[float]]:
    """µs of CPU time per call of each operation, measured ``repeats`` times in interleaved rounds.

    A round calls every operation on each of its ``n`` inputs once, in ``slices`` slices: slice
    ``j`` runs the ``j``-th part of every operation, one operation after the other, so an
    operation and the raw operations it is compared with run milliseconds apart all through the
    round. On a shared machine whose speed drifts (other jobs on the other core, or on the same
    core's sibling), a ratio taken within such a round is far steadier than one of operations
    timed seconds apart. ``before`` runs (untimed) before each round."""
    out: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(repeats):
        if before is not None:
            before()
        spent = dict.fromkeys(ops, 0.0)
        for j in range(slices):
            for name, (fn, n) in ops.items():
                t0 = time.process_time()
                for i in range(n * j // slices, n * (j + 1) // slices):
                    fn(i)
                spent[name] += time.process_time() - t0
        for name, (_, n) in ops.items():
            out[name].append(spent[name] / n * 1e6)
    return out


def _escrows_warm(merchant: Any, tickets: list[bytes], n_escrows: int) -> None:
    for t in tickets[:n_escrows]:
        merchant.verify(t)  # fill the per-block escrow cache: the steady state


def _micro(n: int, echo: Callable[[str], None], repeats: int = 5) -> dict[str, Any]:
    n_esc = max(64, n // 8)
    payer, merchant, _, escrows = bench_world(n_esc)
    fast = bench_world(1, fresh=False)[1]
    on_win = bench_world(n_esc, sigma1="on_win")[1]  # the same seed: the same escrows and r1
    key = PrivateKey.generate()
    digests = [os.urandom(32) for _ in range(n)]
    sigs = [key.sign(d) for d in digests]
    pk = key.pubkey
    reqs = [merchant.request() for _ in range(n)]
    claim_value = VALUE - 1_000
    tickets = [payer.sign_ticket(escrows[i % n_esc], reqs[i], claim_value).encode() for i in range(n)]
    _escrows_warm(merchant, tickets, n_esc)
    losing = [t for t in tickets if not wins(merchant.r1(Ticket.decode(t)), Ticket.decode(t).r2, K)]
    _escrows_warm(on_win, losing, n_esc)

    echo("micro-benchmarks: winning claims on escrows the VTS has never seen")
    n_vts = max(200, n // 10)
    # A world of its own: escrows (and keys) the merchants above never see, so none is cached.
    vpayer, vmerchant, vts, vescrows = bench_world(n_vts, seed=VTS_SEED)
    xs: list[bytes] = []
    for e in vescrows:  # one winning x per escrow (rho = 1/2 here, to find winners quickly)
        while True:
            t = vpayer.sign_ticket(e, vmerchant.request(k=1), claim_value)
            x = t.witness(vmerchant.r1(t))
            if x.wins:
                xs.append(x.encode())
                break

    def vts_check(i: int) -> None:
        checked = vts.check(xs[i])
        vts.key.sign(checked.claim_sighash())

    def forget_escrows() -> None:  # every x then names an escrow the VTS parses for the first time
        messages._escrow_from_bytes.cache_clear()
        common._pubkey.cache_clear()
        common._pubkey(pk)  # the raw verify's key stays parsed, as it is in its own timing
        _escrows_warm(merchant, tickets, n_esc)  # the merchants' escrows stay parsed and cached, as in a
        _escrows_warm(on_win, losing, n_esc)  # steady state (each merchant sees its 1/8 of escrows again)

    ops: dict[str, tuple[Callable[[int], Any], int]] = {
        "raw sign": (lambda i: key.sign(digests[i]), n),
        "raw verify": (lambda i: verify_sig(pk, sigs[i], digests[i]), n),
        "Request Ticket": (lambda i: merchant.request(), n),
        "Request Ticket (Fast)": (lambda i: fast.request(), n),
        "Make a Ticket": (lambda i: payer.sign_ticket(escrows[i % n_esc], reqs[i], claim_value), n),
        "Check Ticket": (lambda i: merchant.verify(tickets[i]), n),
        "Check Ticket (σ1 on win)": (lambda i: on_win.verify(losing[i % len(losing)]), n),
        "VTS Check": (vts_check, len(xs)),
    }
    echo(f"micro-benchmarks: {len(ops)} operations in {repeats} interleaved rounds")
    runs = _rounds(ops, repeats, before=forget_escrows)
    out: dict[str, Any] = {name: statistics.median(v) for name, v in runs.items()}
    raw = {  # the raw operations each one contains, per round
        "Make a Ticket": [2 * s for s in runs["raw sign"]],
        "Check Ticket": [2 * v for v in runs["raw verify"]],
        "Check Ticket (σ1 on win)": runs["raw verify"],
        "VTS Check": [2 * v + s for v, s in zip(runs["raw verify"], runs["raw sign"], strict=True)],
    }
    per_round = {name: [op / r for op, r in zip(runs[name], base, strict=True)] for name, base in raw.items()}
    out["ratios"] = {name: statistics.median(rs) for name, rs in per_round.items()}  # see _rounds
    out["ratio_range"] = {name: [min(per_round[name]), max(per_round[name])] for name in ("Check Ticket", "VTS Check")}
    out["sizes"] = {"request": len(reqs[0].encode()), "request_b64": len(reqs[0].to_b64()),
                    "request_fast_b64": len(fast.request().to_b64()),
                    "ticket": [len(t) for t in tickets], "ticket_b64": [len(b64encode(t)) for t in tickets]}
    out["_xs"] = xs
    return out


def _throughput(n: int, tmp: Path, echo: Callable[[str], None]) -> dict[str, Any]:
    """Merchant ticket checks per second with the store on a file, and VTS durable claims per second."""

    out: dict[str, Any] = {}
    n_esc = max(64, n // 8)
    claim_value = VALUE - 1_000
    modes: list[tuple[str, Sync, int]] = [("one commit per ticket, FULL", "FULL", 1),
                                          ("one commit per ticket, NORMAL", "NORMAL", 1),
                                          ("check_many batches of 64, FULL", "FULL", 64)]
    for mode, sync, batch in modes:
        echo(f"ticket checks per second: {mode}")
        payer, merchant, _, escrows = bench_world(n_esc, str(tmp / f"merchant-{sync}-{batch}.sqlite"), sync)
        tickets = [payer.sign_ticket(escrows[i % n_esc], merchant.request(), claim_value).encode() for i in range(n)]
        _escrows_warm(merchant, tickets, n_esc)
        t0 = time.perf_counter()
        ok = 0
        for i in range(0, n, batch):
            ok += sum(not isinstance(r, Exception) for r in merchant.check_many(tickets[i:i + batch]))
        out[mode] = {"per_s": n / (time.perf_counter() - t0), "accepted": ok}
    return out


def _vts_claims(xs: list[bytes], tmp: Path, echo: Callable[[str], None]) -> dict[str, Any]:
    echo("VTS durable claims per second (FULL)")
    vts = VTS(PrivateKey(sha256(VTS_SEED + b"vts")), SQLiteVTSStore(tmp / "vts.sqlite", synchronous="FULL"))
    t0 = time.perf_counter()
    for xb in xs:
        vts.claim(xb)
    took = time.perf_counter() - t0
    return {"claims": len(xs), "per_s": len(xs) / took, "us": took / len(xs) * 1e6, "board": len(vts.board)}


def _web(duration: float, concurrency: int, tmp: Path, echo: Callable[[str], None]) -> dict[str, Any]:
    n_esc = 2_000
    env = {"BTCMICRO_BENCH_ESCROWS": str(n_esc), "BTCMICRO_BENCH_STORE": str(tmp / "web-merchant.sqlite")}
    payer, _, _, escrows = bench_world(n_esc)
    claim_value = VALUE - 1_000
    won: set[int] = set()

    def ask_buy(i: int) -> Any:
        ask = yield Request("GET", "/ask")
        req = b64decode(ask.json()["request"])
        j = i % n_esc
        while j in won:  # the payer retires an escrow once a ticket on it won
            j = (j + 1) % n_esc
        t = payer.sign_ticket(escrows[j], PaymentRequest.decode(req), claim_value)
        r = yield Request.json("POST", "/buy", {"ticket": t.to_b64()})
        if {k.lower(): v for k, v in r.headers.items()}.get("micropay2-won") == "yes":
            won.add(j)

    runs: dict[str, Callable[[int], Any]] = {
        "/base": lambda i: Request("GET", "/base"),
        "/ask + /base": lambda i: [Request("GET", "/ask"), Request("GET", "/base")],
        "/ask + /buy": ask_buy,
    }

    def measured(server: Any, name: str, **load: Any) -> dict[str, Any]:
        cpu0 = server.cpu_seconds()
        res = run_load(server.url, runs[name], duration=duration, **load)
        cpu1 = server.cpu_seconds()
        out = res.to_json()
        out["server_cpu_us"] = ((cpu1 - cpu0) / res.transactions * 1e6
                                if cpu0 is not None and cpu1 is not None and res.transactions else None)
        return out

    out: dict[str, Any] = {"capacity": {}, "offered": {}, "offered_rate": PAPER_WEB["/base"],
                           "offered_connections": PAPER_CONNECTIONS, "concurrency": concurrency}
    echo("web experiment: load generator ceiling")
    out["ceiling"] = measure_ceiling(concurrency, min(duration, 2.0)).to_json()
    with ServerProcess("btcmicro.bench.micropay2:_web_app", factory=True, env=env) as server:
        run_load(server.url, runs["/base"], concurrency=concurrency, count=200)  # warm
        run_load(server.url, ask_buy, concurrency=concurrency, count=200)
        for name in runs:
            echo(f"web experiment, capacity: {name}, {concurrency} connections back to back, {duration:.0f} s")
            out["capacity"][name] = measured(server, name, concurrency=concurrency)
        for name in ("/ask + /base", "/ask + /buy"):
            echo(f"web experiment, the paper's load: {name}, {PAPER_WEB['/base']} transactions/s offered "
                 f"on {PAPER_CONNECTIONS} connections, {duration:.0f} s")
            out["offered"][name] = measured(server, name, concurrency=PAPER_CONNECTIONS, rate=PAPER_WEB["/base"])
        rounds, seconds = CPU_ROUNDS, max(0.5, duration / 3)
        echo(f"web experiment, server CPU: /ask + /base and /ask + /buy alternating at capacity, {rounds} rounds "
             f"of {seconds:.1f} s each")
        out["cpu"] = _cpu_rounds(server, {name: runs[name] for name in ("/ask + /base", "/ask + /buy")}, rounds,
                                 seconds, concurrency)
    return out


CPU_ROUNDS = 6


def _cpu_rounds(server: Any, runs: dict[str, Callable[[int], Any]], rounds: int, seconds: float,
                concurrency: int) -> dict[str, Any] | None:
    """Server CPU per transaction of each run, the runs alternating in ``rounds`` short rounds (so a
    machine whose speed drifts, or that other jobs share, weighs on both alike): per run the CPU
    and transactions summed over the rounds, and per round the difference of the last run from
    the first. None without /proc."""
    total = {name: [0.0, 0] for name in runs}
    per_round: list[float] = []
    first, last = list(runs)[0], list(runs)[-1]
    for _ in range(rounds):
        this: dict[str, float] = {}
        for name, fn in runs.items():
            cpu0 = server.cpu_seconds()
            res = run_load(server.url, fn, duration=seconds, concurrency=concurrency)
            cpu1 = server.cpu_seconds()
            if cpu0 is None or cpu1 is None or not res.transactions:
                return None
            total[name][0] += cpu1 - cpu0
            total[name][1] += res.transactions
            this[name] = (cpu1 - cpu0) / res.transactions * 1e6
        per_round.append(this[last] - this[first])
    us = {name: cpu / n * 1e6 for name, (cpu, n) in total.items()}
    return {"rounds": rounds, "seconds": seconds, "server_cpu_us": us,
            "transactions": {name: n for name, (_, n) in total.items()},
            "difference_us": us[last] - us[first], "difference_us_per_round": per_round}


def run_micropay2_bench(*, quick: bool = False, web: bool = True,
                        echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every measurement; a JSON-able report (``format_report`` renders it)."""
    say = echo or (lambda _m: None)
    n = 1_000 if quick else 5_000
    with tempfile.TemporaryDirectory(prefix="btcmicro-bench-mp2-") as d:
        tmp = Path(d)
        micro = _micro(n, say)
        xs = micro.pop("_xs")
        report: dict[str, Any] = {"machine": machine_description(), "date": time.strftime("%Y-%m-%d"),
                                  "iterations": n, "micro": micro, "paper": PAPER, "paper_sizes": PAPER_SIZES}
        report["checks"] = _throughput(n, tmp, say)
        report["vts_claims"] = _vts_claims(xs, tmp, say)
        if web:
            report["web"] = _web(1.0 if quick else 3.0, 8, tmp, say)
    report["targets"] = _targets(report)
    return report


def _targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    ratios = r["micro"]["ratios"]
    out = [
        {"target": "Check Ticket within 1.5x of two raw verifies", "value": ratios["Check Ticket"],
         "limit": 1.5, "ok": ratios["Check Ticket"] <= 1.5},
        {"target": "VTS Check within 1.5x of two verifies plus one sign", "value": ratios["VTS Check"],
         "limit": 1.5, "ok": ratios["VTS Check"] <= 1.5},
    ]
    best = max(v["per_s"] for v in r["checks"].values())
    out.append({"target": "merchant ticket checks >= 8,000/s per core (best durable mode)", "value": best,
                "limit": 8_000, "ok": best >= 8_000})
    w = r.get("web")
    if w and w.get("cpu"):
        c = w["cpu"]
        allowed = 2 * r["micro"]["raw verify"] + 100
        out.append({"target": "server CPU per /ask+/buy <= /ask+/base's + two raw verifies + 100 µs "
                              "(value: the excess over /ask+/base, µs)", "value": c["difference_us"],
                    "limit": round(allowed, 1), "ok": c["difference_us"] <= allowed})
    if w:
        for regime, label in (("offered", f"at the paper's load ({w['offered_rate']} transactions/s offered)"),
                              ("capacity", "at capacity (back to back, the server saturated)")):
            x = w[regime]
            ratio = x["/ask + /buy"]["transactions_per_s"] / x["/ask + /base"]["transactions_per_s"]
            target = {"target": f"/ask+/buy keeps >= 90% of /ask+/base's rate {label}", "value": ratio,
                      "limit": 0.9, "ok": ratio >= 0.9}
            bound = web_capacity_bound(r) if regime == "capacity" else None
            if bound is not None:
                target["bound"] = bound
            out.append(target)
    return out


def web_capacity_bound(r: dict[str, Any]) -> float | None:
    """The best ratio /ask+/buy could keep at capacity if ``/buy`` cost the server nothing beyond
    ``/base`` and the ticket's two signature verifications: control / (control + 2 verifies), with
    the control's server CPU per transaction measured in the web run and the raw verify in the
    micro-benchmarks. None without the server's CPU time."""
    control = r["web"]["capacity"]["/ask + /base"]["server_cpu_us"]
    if control is None:
        return None
    return float(control / (control + 2 * r["micro"]["raw verify"]))


def format_report(r: dict[str, Any]) -> str:
    """The report as text: the table with the paper's figures, sizes, throughput, web, targets."""
    m = r["micro"]
    sign, verify = m["raw sign"], m["raw verify"]
    raw = {"Request Ticket": "one EC key derivation", "Request Ticket (Fast)": "hashes only",
           "Make a Ticket": f"2 signs = {2 * sign:.1f}", "Check Ticket": f"2 verifies = {2 * verify:.1f}",
           "Check Ticket (σ1 on win)": f"1 verify = {verify:.1f} (losing ticket)",
           "VTS Check": f"2 verifies + 1 sign = {2 * verify + sign:.1f}"}
    lines = [f"MICROPAY2 micro-benchmarks, one core, µs per operation ({r['iterations']:,} iterations; median of 5 "
             "interleaved rounds; ratio: median of the ratios within a round)",
             f"machine: {r['machine']}", "",
             f"{'operation':<26}{'ours':>9}{'paper (Go, 2015)':>18}{'ratio':>7}   raw operations in it (same rounds)"]
    for name in ("Request Ticket", "Request Ticket (Fast)", "Make a Ticket", "Check Ticket", "Check Ticket (σ1 on win)",
                 "VTS Check"):
        paper = f"{PAPER[name]:.1f}" if name in PAPER else "-"
        ratio = f"{m['ratios'][name]:.2f}" if name in m["ratios"] else ""
        lines.append(f"{name:<26}{m[name]:>9.1f}{paper:>18}{ratio:>7}   {raw[name]}")
    lines.append(f"{'raw sign / raw verify':<26}{sign:>5.1f} / {verify:.1f}")
    s = m["sizes"]
    tk, tb = s["ticket"], s["ticket_b64"]
    lines += ["", f"sizes: request {s['request']} B binary, {s['request_b64']} B base64url "
                  f"(fast: {s['request_fast_b64']}); ticket {min(tk)}-{max(tk)} B binary, "
                  f"{min(tb)}-{max(tb)} B base64url (paper: 73 B request, 398 ± 10 B ticket)"]
    lines += ["", "merchant ticket checks per second, store on a file:"]
    lines += [f"  {k}: {v['per_s']:,.0f}/s" for k, v in r["checks"].items()]
    vc = r["vts_claims"]
    lines += [f"VTS durable claims (check, sign, board entry committed FULL): {vc['per_s']:,.0f}/s "
              f"({vc['us']:.0f} µs each)"]
    w = r.get("web")
    if w:
        lines += ["", f"web experiment on loopback (generator ceiling {w['ceiling']['requests_per_s']:,.0f} req/s); "
                  "server CPU per transaction from /proc:"]
        for regime, title in (("capacity", f"capacity: {w['concurrency']} connections back to back"),
                              ("offered", f"the paper's load: {w['offered_rate']} transactions/s offered on "
                                          f"{w['offered_connections']} connections")):
            lines.append(f"  {title}")
            for name, x in w[regime].items():
                lat = x["transaction_latency"]
                cpu = f"{x['server_cpu_us']:,.0f} µs" if x["server_cpu_us"] is not None else "n/a"
                lines.append(f"    {name:<13} {x['transactions_per_s']:>7,.0f} transactions/s "
                             f"({x['requests_per_s']:,.0f} req/s), "
                             f"latency p50 {lat['p50'] * 1e3:.2f} ms p99 {lat['p99'] * 1e3:.2f} ms, server {cpu}, "
                             f"errors {x['errors'] or 'none'}")
        lines.append(f"  (paper, over the Internet, server not saturated: /base {PAPER_WEB['/base']}/s, "
                     f"/buy {PAPER_WEB['/buy']}/s)")
        c = w.get("cpu")
        if c:
            ctl, buy = c["server_cpu_us"]["/ask + /base"], c["server_cpu_us"]["/ask + /buy"]
            lines.append(f"  server CPU, the two alternating at capacity ({c['rounds']} rounds of "
                         f"{c['seconds']:.1f} s): /ask + /base {ctl:,.0f} µs, /ask + /buy {buy:,.0f} µs per "
                         f"transaction: /buy costs {c['difference_us']:,.0f} µs more (per round: "
                         + ", ".join(f"{d:,.0f}" for d in c["difference_us_per_round"])
                         + f"; two raw verifies are {2 * m['raw verify']:.0f} µs)")
    lines += ["", "targets:"]
    for t in r["targets"]:
        bound = f"; at most {t['bound']:.2f} if /buy added nothing but two verifies" if "bound" in t else ""
        verdict = "PASS" if t["ok"] else "FAIL"
        lines.append(f"  [{verdict}] {t['target']}: {t['value']:,.2f} (limit {t['limit']}){bound}")
    return "\n".join(lines)
