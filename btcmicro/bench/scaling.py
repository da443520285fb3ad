"""Scaling: a MICROPAY2 merchant on 1 and 2 worker processes, on SQLite and on PostgreSQL, and VTS
claims per second with one and two replicas (``btcmicro bench scaling``).

**Merchant.** The server is what ``btcmicro merchant serve --workers N --store …`` runs
(:func:`btcmicro.service.workers.serve_workers` forking N workers on one socket), in a child
process, with a world on a stand-in chain built from one seed in every process (2,000 escrows, as
in ``bench micropay2``'s web experiment, so only the store and the HTTP path are measured). The
bounded load generator (:mod:`btcmicro.bench.load`) runs ``/ask`` + ``/buy`` back to back on
``concurrency`` connections in this process. Reported per configuration: capacity (transactions/s),
latency, the server's CPU per transaction (every worker's user + system time over the run, read
from ``/proc``; the supervising parent's too), PostgreSQL's own CPU per transaction (the cluster's
processes: the database works for the merchant) and the load generator's own share of a core
(``client_cpu``: it shares the machine's cores with the server).

**VTS.** ``/claim`` of claims on distinct escrows (each one a new, durable board entry), from the
same generator, against one VTS process or two (the same key and store: replicas); each claim takes
the VTS key's lock, so replicas add availability, not signing throughput.

The SQLite store is a file with ``synchronous=FULL``; the PostgreSQL store is a throw-away cluster
(:class:`~btcmicro.store.cluster.TemporaryCluster`, ``fsync=on``), or the server ``postgres_url``
names. Both are durable before an answer leaves.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from btcmicro.bench.load import Request, measure_ceiling, run_load
from btcmicro.bench.micropay2 import bench_world as micropay2_world
from btcmicro.core.hashes import sha256
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.micropay2 import (
    VTS,
    EscrowRef,
    Merchant,
    Payer,
    PaymentRequest,
    wins,
)
from btcmicro.lottery.micropay2.postgres import MERCHANT_STORE, VTS_STORE
from btcmicro.service.merchant import create_merchant_app
from btcmicro.service.vts import create_vts_app
from btcmicro.service.workers import serve_workers
from btcmicro.store.cluster import TemporaryCluster
from btcmicro.store.url import open_store
from btcmicro.wire.base64url import b64decode, b64encode

__all__ = ["run_scaling_bench", "format_report"]

SEED = b"btcmicro/bench/scaling/v1"
PRICE = 1_000
K = 7
VALUE = (PRICE << K) + 1_000
ESCROWS = 2_000


def _world(n: int, store: Any, seed: bytes = SEED) -> tuple[Payer, Merchant, VTS, list[EscrowRef]]:
    """(payer, merchant, vts, escrows) on a stand-in chain at a fixed tip, all from ``seed``: the
    same world in the generator and in every worker (``bench micropay2``'s, on ``store``)."""
    return micropay2_world(n, seed=seed, store=store, value=VALUE)


# -- the server processes ---------------------------------------------------------------------------


def _serve(role: str, store_url: str, port: int, workers: int) -> None:
    """A child process: the merchant or the VTS on ``workers`` worker processes."""
    if role == "merchant":
        def make_app() -> Any:
            _, merchant, vts, _ = _world(ESCROWS, open_store(store_url, MERCHANT_STORE))
            return create_merchant_app(merchant, [vts], claim_in_background=False)
    else:
        def make_app() -> Any:
            key = PrivateKey(sha256(SEED + b"vts"))
            return create_vts_app(VTS(key, open_store(store_url, VTS_STORE)), max_new_claims=10**9,
                                  max_claim_requests=10**9)
    serve_workers(make_app, "127.0.0.1", port, workers)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tree(root: int) -> list[int]:
    """``root`` and its descendants (from ``/proc``)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += [p for p, pp in parents.items() if pp == pid]
    return out


def _cpu(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (children they reaped included)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(role: str, store_url: str, workers: int, probe: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    import httpx

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "btcmicro.bench.scaling", "serve", role, store_url, str(port),
                             str(workers)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:  # until every worker answers: each builds its world first
            if proc.poll() is not None:
                raise RuntimeError(f"the {role} server exited with status {proc.returncode}")
            try:
                if httpx.get(url + probe, timeout=5).status_code == 200 and len(_tree(proc.pid)) > workers:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {role} server did not start")
            time.sleep(0.1)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the measurements -------------------------------------------------------------------------------


def _merchant_run(store_url: str, workers: int, duration: float, concurrency: int, db_pids: Callable[[], list[int]],
                  payer: Payer, escrows: list[EscrowRef]) -> dict[str, Any]:
    won: set[int] = set()
    offset = [0]

    def ask_buy(i: int) -> Any:
        ask = yield Request("GET", "/ask")
        req = PaymentRequest.decode(b64decode(ask.json()["request"]))
        j = (i + offset[0]) % len(escrows)
        while j in won:  # the payer retires an escrow once a ticket on it won
            j = (j + 1) % len(escrows)
        t = payer.sign_ticket(escrows[j], req, VALUE - 1_000)
        r = yield Request.json("POST", "/buy", {"ticket": t.to_b64()})
        if {k.lower(): v for k, v in r.headers.items()}.get("micropay2-won") == "yes":
            won.add(j)

    with _server("merchant", store_url, workers, "/base") as (url, proc):
        run_load(url, ask_buy, concurrency=concurrency, count=200)  # warm: every worker's connections and caches
        offset[0] = 200
        pids, dbs = _tree(proc.pid), db_pids()
        cpu0, db0 = _cpu(pids), _cpu(dbs)
        res = run_load(url, ask_buy, concurrency=concurrency, duration=duration)
        cpu1, db1 = _cpu(_tree(proc.pid)), _cpu(dbs)
    out = res.to_json()
    n = max(1, res.transactions)
    out.update(server_cpu_us=(cpu1 - cpu0) / n * 1e6, database_cpu_us=(db1 - db0) / n * 1e6 if dbs else None,
               workers=workers)
    return out


def _claims(n: int) -> list[bytes]:
    """``n`` winning claims (x) on ``n`` distinct escrows of the world: each a new board entry."""
    payer, merchant, _, escrows = _world(n, open_store("sqlite::memory:", MERCHANT_STORE), seed=SEED)
    out: list[bytes] = []
    for e in escrows:
        while True:
            t = payer.sign_ticket(e, merchant.request(k=1), VALUE - 1_000)  # rho = 1/2: a winner in ~2 tries
            r1 = merchant.r1(t)
            if wins(r1, t.r2, t.k):
                out.append(t.witness(r1).encode())
                break
    return out


def _vts_run(store_url: str, replicas: int, xs: list[bytes], duration: float, concurrency: int,
             db_pids: Callable[[], list[int]]) -> dict[str, Any]:
    with _server("vts", store_url, replicas, "/pubkey") as (url, proc):
        pids, dbs = _tree(proc.pid), db_pids()
        cpu0, db0 = _cpu(pids), _cpu(dbs)
        res = run_load(url, lambda i: Request.json("POST", "/claim", {"x": b64encode(xs[i])}),
                       concurrency=concurrency, count=len(xs), duration=duration)
        cpu1, db1 = _cpu(_tree(proc.pid)), _cpu(dbs)
    out = res.to_json()
    n = max(1, res.transactions)
    out.update(server_cpu_us=(cpu1 - cpu0) / n * 1e6, database_cpu_us=(db1 - db0) / n * 1e6 if dbs else None,
               replicas=replicas)
    return out


def run_scaling_bench(*, duration: float = 5.0, concurrency: int = 16, postgres_url: str | None = None,
                      quick: bool = False, echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every configuration once, in one run (the report's figures are comparable with each other)."""
    say = echo or (lambda _m: None)
    if quick:
        duration = min(duration, 1.5)
    report: dict[str, Any] = {"cpus": os.cpu_count(), "duration": duration, "concurrency": concurrency,
                              "merchant": {}, "vts": {}}
    cluster: TemporaryCluster | None = None
    with tempfile.TemporaryDirectory(prefix="btcmicro-scaling-") as tmp:
        try:
            if postgres_url is None:
                say("starting a throw-away PostgreSQL server (fsync on)")
                cluster = TemporaryCluster().start()
                base = cluster.url
            else:
                base = postgres_url
            server_pid = cluster.process.pid if cluster is not None and cluster.process is not None else None

            def db_pids() -> list[int]:  # the PostgreSQL server's processes (none when it is not ours)
                return _tree(server_pid) if server_pid is not None else []
            say("load generator ceiling")
            report["ceiling"] = measure_ceiling(concurrency, min(duration, 2.0)).to_json()
            payer, _, _, escrows = _world(ESCROWS, open_store("sqlite::memory:", MERCHANT_STORE))
            for backend in ("sqlite", "postgresql"):
                for workers in (1, 2):
                    name = f"{backend}, {workers} worker{'s' if workers > 1 else ''}"
                    if backend == "sqlite":
                        url = str(Path(tmp) / f"merchant-{workers}.sqlite")
                    else:
                        url = cluster.create_database(f"merchant_{workers}") if cluster else base
                    say(f"merchant /ask + /buy: {name}, {concurrency} connections, {duration:g} s")
                    report["merchant"][name] = _merchant_run(url, workers, duration, concurrency,
                                                             db_pids if backend == "postgresql" else (lambda: []),
                                                             payer, escrows)
            xs = _claims(800 if quick else 4_000)
            for backend in ("sqlite", "postgresql"):
                for replicas in (1, 2):
                    name = f"{backend}, {replicas} replica{'s' if replicas > 1 else ''}"
                    if backend == "sqlite":
                        url = str(Path(tmp) / f"vts-{replicas}.sqlite")
                    else:
                        url = cluster.create_database(f"vts_{replicas}") if cluster else base
                    say(f"VTS /claim (a new board entry each): {name}, {concurrency} connections")
                    report["vts"][name] = _vts_run(url, replicas, xs, duration, concurrency,
                                                   db_pids if backend == "postgresql" else (lambda: []))
        finally:
            if cluster is not None:
                cluster.stop()
    return report


def _us(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f} µs"


def format_report(r: dict[str, Any]) -> str:
    lines = [f"scaling ({r['cpus']} cores, {r['concurrency']} connections, {r['duration']:g} s per run; the load "
             "generator shares the cores)",
             f"  load generator ceiling (trivial server): {r['ceiling']['requests_per_s']:,.0f} requests/s",
             "  merchant /ask + /buy, capacity:"]
    for name, x in r["merchant"].items():
        lines.append(f"    {name:<24} {x['transactions_per_s']:>7,.0f} tx/s  p50 "
                     f"{x['transaction_latency']['p50'] * 1e3:6.2f} ms  server {_us(x['server_cpu_us'])}/tx  "
                     f"database {_us(x['database_cpu_us'])}/tx  generator {x['client_cpu']:.0%} of a core"
                     + (f"  errors {x['errors']}" if x["errors"] else ""))
    lines.append("  VTS /claim (each a new durable board entry):")
    for name, x in r["vts"].items():
        lines.append(f"    {name:<24} {x['transactions_per_s']:>7,.0f} claims/s  p50 "
                     f"{x['transaction_latency']['p50'] * 1e3:6.2f} ms  server {_us(x['server_cpu_us'])}/claim  "
                     f"database {_us(x['database_cpu_us'])}/claim  generator {x['client_cpu']:.0%} of a core"
                     + (f"  errors {x['errors']}" if x["errors"] else ""))
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve"]:
        _, role, store_url, port, workers = argv
        _serve(role, store_url, int(port), int(workers))
        return
    print(json.dumps(run_scaling_bench(echo=lambda m: print(m, file=sys.stderr)), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
