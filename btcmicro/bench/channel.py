"""``btcmicro bench channel``: what one payment channel costs, in time and on chain.

Measured in one run, on a fresh node:

- **payments/s** of one v3 channel in-process (JSON wire form both ways) and over HTTP on loopback
  (the server a separate ``btcmicro channel serve`` process), both with file stores at SQLite
  ``synchronous=FULL`` (the server commits each payment before it acknowledges it);
- **one payment next to one raw sign + one raw verify** (coincurve, 32-byte digest), timed in
  the same run: what the protocol, the JSON and the fsync add to the cryptography;
- **on-chain virtual bytes and fees** of a full lifecycle of v1, v2 and v3: deposit, close, and
  (on a second channel) the refund after the expiry, read back from the node.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from btcmicro.bench.engine import machine_description
from btcmicro.bench.load import ServerProcess
from btcmicro.channels.bitcoinj import (
    ClientConfig,
    InProcessTransport,
    PaymentChannelClient,
    PaymentChannelServer,
    ServerConfig,
    SQLiteClientStore,
    SQLiteServerStore,
    Transport,
)
from btcmicro.core.keys import PrivateKey, verify_der
from btcmicro.node.chain import RPCChain
from btcmicro.node.launcher import start_node
from btcmicro.node.rpc import sats
from btcmicro.service.app import operator_headers, read_operator_token
from btcmicro.service.channel import HTTPTransport
from btcmicro.service.client import ServiceClient
from btcmicro.wallet import Funder

__all__ = ["run_channel_bench", "format_report", "ChannelServerProcess", "channel_fee", "PASSPHRASE"]

PASSPHRASE = "bench passphrase"
PAYMENT = 1_000
LIFECYCLE_CONFIG = ServerConfig(expiry_by_height=True, min_time_window_secs=600)


class ChannelServerProcess(ServerProcess):
    """``btcmicro channel serve`` in a child process, attached to the node at ``node_url``.

    ``start()`` returns once it listens (:attr:`url`); :meth:`kill` sends SIGKILL (nothing is
    flushed, as in a crash); :meth:`stop` sends SIGTERM and waits. ``port`` 0 picks a free port on
    the first start and keeps it on restarts. ``stop`` and the context manager are
    :class:`~btcmicro.bench.load.ServerProcess`'s.
    """

    def __init__(self, node_url: str, cookie: str | Path, datadir: str | Path, store: str | Path, *,
                 port: int = 0, args: tuple[str, ...] = (), passphrase: str = PASSPHRASE) -> None:
        self.node_url, self.cookie, self.datadir, self.store = node_url, str(cookie), str(datadir), str(store)
        self.port = port
        self.args = args
        self.env = {**os.environ, "BTCMICRO_CHANNEL_PASSPHRASE": passphrase}
        self.env.pop("BTCMICRO_PASSPHRASE", None)
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self._drained: subprocess.Popen[str] | None = None  # the process whose stderr a drain thread reads
        self.cpu = None

    def start(self, timeout: float = 30.0) -> ChannelServerProcess:
        argv = [sys.executable, "-c", "from btcmicro.cli import run; run()", "--datadir", self.datadir,
                "--url", self.node_url, "--cookie", self.cookie, "channel", "serve", "--json",
                "--port", str(self.port), "--store", self.store, *self.args]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.append(self._read_json()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not out or not out[0]:
            err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
            self.kill()
            raise RuntimeError(f"channel server did not start: {err[-500:]}")
        self.url = json.loads(out[0])["url"]
        self.port = int(self.url.rsplit(":", 1)[1])
        self._drained = self.proc
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _read_json(self) -> str:
        """The first JSON document on stdout (``--json`` pretty-prints it over several lines)."""
        assert self.proc is not None and self.proc.stdout is not None
        lines = []
        for line in self.proc.stdout:
            lines.append(line)
            if line.rstrip() == "}":
                return "".join(lines)
        return ""

    def _drain(self) -> None:
        """Read the server's stderr until it exits (so it never blocks on a full pipe), then close it."""
        proc = self.proc
        if proc is not None and proc.stderr is not None:
            with proc.stderr:
                for _ in proc.stderr:
                    pass

    def kill(self) -> None:
        """SIGKILL: the server dies mid-whatever, as in a crash."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            if self.proc is not self._drained and self.proc.stderr is not None:  # no drain thread owns it
                self.proc.stderr.close()
            self.proc = None



def channel_fee(rpc: Any, txid: str) -> tuple[int, int]:
    """(vsize, fee in sats) of a transaction, read from the node (fee = inputs - outputs)."""
    tx = rpc.getrawtransaction(txid, True)
    spent = sum(sats(rpc.getrawtransaction(i["txid"], True)["vout"][i["vout"]]["value"]) for i in tx["vin"])
    return int(tx["vsize"]), spent - sum(sats(o["value"]) for o in tx["vout"])


def _raw_sign_verify(n: int) -> float:
    """Seconds for one sign plus one verify (coincurve), averaged over ``n``."""
    key = PrivateKey.generate()
    digests = [os.urandom(32) for _ in range(n)]
    t0 = time.perf_counter()
    for d in digests:
        sig = key.sign(d)
        if not verify_der(key.pubkey, sig, d):
            raise RuntimeError("raw verify failed")
    return (time.perf_counter() - t0) / n


def _pay_loop(client: PaymentChannelClient, payments: int) -> float:
    t0 = time.perf_counter()
    for _ in range(payments):
        client.pay(PAYMENT)
    return time.perf_counter() - t0


def _client(transport: Transport, chain: RPCChain, path: Path, wallet: Any, **cfg: int) -> PaymentChannelClient:
    store = SQLiteClientStore(path, passphrase=PASSPHRASE)
    return PaymentChannelClient(transport, chain, store, wallet, config=ClientConfig(**cfg))


def _lifecycle(rpc: Any, chain: RPCChain, wallet: Any, tmp: Path, version: int) -> dict[str, Any]:
    store = SQLiteServerStore(tmp / f"life{version}-server.db", passphrase=PASSPHRASE)
    server = PaymentChannelServer(chain, store, config=LIFECYCLE_CONFIG)
    out: dict[str, Any] = {"version": version}
    try:
        client = _client(InProcessTransport(server), chain, tmp / f"life{version}-a.db", wallet,
                         version=version, time_window_secs=3600)
        deposit = client.open(1_000_000).deposit_txid
        for _ in range(10):
            client.pay(PAYMENT)
        close = client.close().GetTxid()[::-1].hex()
        refunding = _client(InProcessTransport(server), chain, tmp / f"life{version}-b.db", wallet,
                            version=version, time_window_secs=3600)
        expiry = refunding.open(1_000_000).expiry
        wallet.mine_to_self(max(1, expiry - chain.height()))
        refund = refunding.refund()
        wallet.mine_to_self(1)
        for name, txid in (("deposit", deposit), ("close", close), ("refund", refund)):
            vsize, fee = channel_fee(rpc, txid)
            out[name] = {"txid": txid, "vsize": vsize, "fee": fee}
        out["deposit_script_type"] = rpc.getrawtransaction(deposit, True)["vout"][0]["scriptPubKey"]["type"]
        client.store.close()
        refunding.store.close()
    finally:
        store.close()
    return out


def _concurrent_http(proc: ChannelServerProcess, chain: RPCChain, wallet: Any, tmp: Path, clients: int,
                     per_client: int, deposit: int) -> dict[str, Any]:
    """``clients`` channels to the server process, each its own client (own store file, own HTTP
    connection, own thread), paying ``per_client`` payments at once; the total rate and the CPU of
    both sides over the paying phase."""
    opened: list[PaymentChannelClient] = []
    for n in range(clients):
        c = _client(HTTPTransport(proc.url), chain, tmp / f"client-many-{n}.db", wallet)
        c.open(deposit)
        opened.append(c)
    wallet.mine_to_self(1)
    start = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def work(c: PaymentChannelClient) -> None:
        start.wait()
        try:
            for _ in range(per_client):
                c.pay(PAYMENT)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in opened]
    for t in threads:
        t.start()
    server_cpu0 = proc.cpu_seconds()
    start.wait()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    server_cpu1 = proc.cpu_seconds()
    if errors:
        raise RuntimeError(f"{len(errors)} of {clients} clients failed: {errors[0]!r}")
    token = read_operator_token(tmp / "server.token")
    with ServiceClient(proc.url, headers=operator_headers(token)) as operator:
        for c in opened:  # every acknowledged payment is in the server's store
            assert operator.get(f"/channel/channels/{c.deposit_txid}")["client_change"] == c.change
    for c in opened:
        assert isinstance(c.transport, HTTPTransport)
        c.transport.close()
        c.store.close()
    total = clients * per_client
    out: dict[str, Any] = {"clients": clients, "payments": total, "seconds": round(elapsed, 3),
                           "payments_per_s": round(total / elapsed, 1),
                           "generator_cpu_cores": round(cpu / elapsed, 2),
                           "generator_cpu_us_per_payment": round(cpu / total * 1e6, 1)}
    if server_cpu0 is not None and server_cpu1 is not None:
        out["server_cpu_cores"] = round((server_cpu1 - server_cpu0) / elapsed, 2)
        out["server_cpu_us_per_payment"] = round((server_cpu1 - server_cpu0) / total * 1e6, 1)
    return out


def run_channel_bench(payments: int = 1_000, engine: str = "embedded",
                      echo: Callable[[str], None] | None = None, *, clients: int = 1,
                      per_client: int = 200, lifecycles: bool = True) -> dict[str, Any]:
    """Run the benchmark on a fresh node of ``engine``; a JSON-able report. With ``clients`` above
    one, ``clients`` channels also pay ``per_client`` payments each at once over HTTP."""
    say = echo or (lambda _m: None)
    deposit = PAYMENT * (payments + 10) + 100_000
    many_deposit = PAYMENT * (per_client + 10) + 100_000
    with tempfile.TemporaryDirectory(prefix="btcmicro-bench-channel-") as d, start_node(engine) as node:
        tmp = Path(d)
        rpc = node.rpc
        chain = RPCChain(rpc)
        wallet = Funder(rpc)
        wallet.ensure_balance(4 * deposit + 10_000_000 + (clients * many_deposit if clients > 1 else 0))
        wallet.split(8, deposit + 1_000_000)
        if clients > 1:
            wallet.split(clients, many_deposit + 100_000)
        wallet.mine_to_self(1)
        report: dict[str, Any] = {"machine": machine_description(), "engine": node.engine, "payments": payments,
                                  "payment_sats": PAYMENT, "load": _load_average()}

        say("raw sign + verify…")
        raw = _raw_sign_verify(max(1_000, payments))
        report["raw_sign_plus_verify_us"] = round(raw * 1e6, 1)

        say(f"{payments} payments in-process…")
        store = SQLiteServerStore(tmp / "server.db", passphrase=PASSPHRASE)
        server = PaymentChannelServer(chain, store)
        client = _client(InProcessTransport(server), chain, tmp / "client-inproc.db", wallet)
        client.open(deposit)
        t_in = _pay_loop(client, payments)
        stored = server.channel(client.deposit_txid or "")
        assert stored is not None and stored.best_change == client.change
        client.store.close()
        store.close()

        say(f"{payments} payments over HTTP (server process)…")
        proc = ChannelServerProcess(node.url, node.cookie_path, tmp / "datadir", tmp / "server-http.db",
                                    args=("--max-sessions-per-client", str(max(16, 2 * clients))))
        with proc:
            transport = HTTPTransport(proc.url)
            client = _client(transport, chain, tmp / "client-http.db", wallet)
            client.open(deposit)
            cpu0, server_cpu0 = time.process_time(), proc.cpu_seconds()
            t_http = _pay_loop(client, payments)
            cpu_http, server_cpu_http = time.process_time() - cpu0, proc.cpu_seconds()
            if server_cpu0 is not None and server_cpu_http is not None:
                server_cpu_http -= server_cpu0
            token = read_operator_token(tmp / "server.token")  # the listings are operator only
            with ServiceClient(proc.url, headers=operator_headers(token)) as operator:
                got = operator.get(f"/channel/channels/{client.deposit_txid}")["client_change"]
            assert got == client.change
            transport.close()
            client.store.close()
            if clients > 1:
                say(f"{clients} clients x {per_client} payments at once over HTTP…")
                report["concurrent_http"] = _concurrent_http(proc, chain, wallet, tmp, clients, per_client,
                                                             many_deposit)

        per_in = t_in / payments
        report["in_process"] = {"seconds": round(t_in, 3), "payments_per_s": round(payments / t_in, 1),
                                "ms_per_payment": round(per_in * 1e3, 3)}
        report["http_loopback"] = {"seconds": round(t_http, 3), "payments_per_s": round(payments / t_http, 1),
                                   "ms_per_payment": round(t_http / payments * 1e3, 3),
                                   "client_cpu_us_per_payment": round(cpu_http / payments * 1e6, 1)}
        if server_cpu_http is not None:
            report["http_loopback"]["server_cpu_us_per_payment"] = round(server_cpu_http / payments * 1e6, 1)
        report["payment_over_sign_verify"] = round(per_in / raw, 1)
        report["http_over_in_process"] = round(t_http / t_in, 2)

        report["lifecycles"] = []
        for version in (1, 2, 3) if lifecycles else ():
            say(f"v{version} lifecycle on chain…")
            report["lifecycles"].append(_lifecycle(rpc, chain, wallet, tmp, version))
        report["feerate_sat_per_kvb"] = LIFECYCLE_CONFIG.close_feerate
    return report


def _load_average() -> str:
    """The machine's load average (1, 5, 15 min) as ``uptime`` shows it; other jobs share the cores."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def format_report(report: dict[str, Any]) -> str:
    i, h = report["in_process"], report["http_loopback"]
    lines = [
        f"machine: {report['machine']} ({report['engine']} engine)",
        f"one v3 channel, {report['payments']:,} payments of {report['payment_sats']:,} sats, "
        "file stores (SQLite synchronous=FULL)",
        "",
        f"{'':<26}{'payments/s':>12}{'ms/payment':>12}",
        f"{'in-process (JSON wire)':<26}{i['payments_per_s']:>12,.0f}{i['ms_per_payment']:>12.3f}",
        f"{'HTTP loopback (2 procs)':<26}{h['payments_per_s']:>12,.0f}{h['ms_per_payment']:>12.3f}",
        f"  HTTP CPU per payment: client {h.get('client_cpu_us_per_payment', 0):.0f} µs, server "
        f"{h.get('server_cpu_us_per_payment', 0):.0f} µs",
        f"raw sign + verify: {report['raw_sign_plus_verify_us']:.1f} µs; one in-process payment = "
        f"{report['payment_over_sign_verify']}× that; HTTP = {report['http_over_in_process']}× in-process",
    ]
    many = report.get("concurrent_http")
    if many:
        lines += [
            f"{many['clients']} clients at once over HTTP: {many['payments_per_s']:,.0f} payments/s in total "
            f"({many['payments']:,} in {many['seconds']:.2f} s) = {many['payments_per_s'] / h['payments_per_s']:.2f}× "
            "one client",
            f"  CPU: load generator {many['generator_cpu_cores']:.2f} cores "
            f"({many['generator_cpu_us_per_payment']:.0f} µs/payment), server "
            f"{many.get('server_cpu_cores', 0):.2f} cores ({many.get('server_cpu_us_per_payment', 0):.0f} µs/payment)",
        ]
    lines += [
        f"load average at start: {report.get('load', 'unknown')}",
        "",
        f"on chain at {report['feerate_sat_per_kvb']:,} sat/kvB (vbytes / fee sats):",
        f"{'version':<9}{'deposit':>16}{'close':>16}{'refund':>16}   deposit output",
    ]
    if not report["lifecycles"]:
        lines[-2:] = []
    for lc in report["lifecycles"]:
        cells = "".join(f"{lc[k]['vsize']:>8} / {lc[k]['fee']:<5}" for k in ("deposit", "close", "refund"))
        lines.append(f"v{lc['version']:<8}{cells}   {lc['deposit_script_type']}")
    return "\n".join(lines)
