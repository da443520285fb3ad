"""``btcmicro bench engine``: the embedded engine next to bitcoind, same work, same run.

Measured per engine, each on a fresh temporary datadir:

- **start**: launch the node process until RPC answers;
- **101 blocks**: ``generatetoaddress 101`` (the first coins mature);
- **100 × 1 block**: ``generatetoaddress 1`` a hundred times (each call makes its block durable
  before it returns, so this shows what crash safety costs per call);
- **send**: ``N`` pre-signed one-in-one-out P2WPKH transactions through ``sendrawtransaction``,
  one call each, on one keep-alive connection;
- **mine**: the blocks that confirm them (``generatetoaddress`` until the mempool is empty).

Signing happens before the clock starts, so the figures are the node's cost.

With the embedded engine, the same run is repeated as ``embedded-nofsync``: the engine started with
``--no-block-fsync`` (its record of connected blocks is written but never fsync'd), which is what the
embedded engine cost before it was crash-safe. The ratio of the two is the price of durability.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bitcoin.core import CMutableTransaction, CMutableTxIn, COutPoint, CScript, CTxOut, b2lx, lx

from btcmicro.core.keys import PrivateKey
from btcmicro.node.bitcoind import BitcoindNode, find_bitcoind
from btcmicro.node.rpc import RPCClient, read_cookie
from btcmicro.script import standard
from btcmicro.tx.sign import sign_p2wpkh

__all__ = ["run_engine_bench", "format_report", "machine_description"]

FEE = 200  # sats per 110-vbyte tx: above the 100 sat/kvB minimum relay fee


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {system}"


class _EmbeddedProcess:
    """The embedded engine as its own process, as the CLI runs it."""

    def __init__(self, datadir: Path, *, fsync: bool = True) -> None:
        self.datadir = datadir
        self.fsync = fsync
        self.name = "embedded" if fsync else "embedded-nofsync"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> RPCClient:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "btcmicro.node.engine", "--datadir", str(self.datadir)]
            + ([] if self.fsync else ["--no-block-fsync"]),
            stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        import json

        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"engine process exited with code {self.proc.wait()} before RPC was ready")
        info = json.loads(line)
        if "error" in info:
            raise RuntimeError(info["error"])
        return RPCClient(info["url"], cookie_file=info["cookie_file"])

    def stop(self, rpc: RPCClient) -> None:
        try:
            rpc.stop()
        finally:
            if self.proc is not None:
                self.proc.wait(timeout=30)


class _BitcoindProcess:
    name = "bitcoind"

    def __init__(self, datadir: Path, binary: str) -> None:
        self.node = BitcoindNode(datadir=datadir, bitcoind=binary)

    def start(self) -> RPCClient:
        self.node.start()
        user, password = read_cookie(self.node.cookie_path)
        return RPCClient(self.node.url, user=user, password=password)

    def stop(self, rpc: RPCClient) -> None:
        self.node.stop()


def _split_outputs(rpc: RPCClient, key: PrivateKey, spk: bytes, coinbases: list[tuple[str, int]],
                   count: int) -> list[tuple[str, int, int]]:
    """Split mature coinbases into ``count`` P2WPKH coins; returns (txid, vout, value)."""
    coins: list[tuple[str, int, int]] = []
    per_tx = 500
    for txid, value in coinbases:
        if len(coins) >= count:
            break
        n = min(per_tx, count - len(coins))
        each = (value - 10_000) // n
        tx = CMutableTransaction([CMutableTxIn(COutPoint(lx(txid), 0))], [CTxOut(each, CScript(spk)) for _ in range(n)])
        sign_p2wpkh(tx, 0, key, value)
        split_txid = rpc.sendrawtransaction(tx.serialize().hex())
        coins.extend((split_txid, i, each) for i in range(n))
    return coins


def _bench_one(runner: Any, txs: int, echo: Callable[[str], None] | None) -> dict[str, Any]:
    key = PrivateKey.generate()
    spk = bytes(standard.p2wpkh(key.pubkey))
    address = standard.script_to_address(spk)
    t0 = time.perf_counter()
    rpc = runner.start()
    rpc.getblockcount()
    t_start = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        hashes = rpc.generatetoaddress(101, address)
        t_101 = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(100):
            hashes += rpc.generatetoaddress(1, address)
        t_1x100 = time.perf_counter() - t0
        # Setup (not timed): enough mature coinbases, split into one coin per transaction.
        needed_coinbases = max(1, -(-txs // 500))
        hashes += rpc.generatetoaddress(needed_coinbases, address)
        rpc.generatetoaddress(100, address)
        coinbases = []
        for h in hashes[:needed_coinbases + 1]:  # the first coinbases: mature by now
            cb = rpc.getblock(h, 2)["tx"][0]
            coinbases.append((cb["txid"], int(Decimal(cb["vout"][0]["value"]) * 100_000_000)))
        coins = _split_outputs(rpc, key, spk, coinbases, txs)
        rpc.generatetoaddress(1, address)
        signed = []
        for txid, vout, value in coins[:txs]:
            tx = CMutableTransaction([CMutableTxIn(COutPoint(lx(txid), vout))], [CTxOut(value - FEE, CScript(spk))])
            sign_p2wpkh(tx, 0, key, value)
            signed.append((b2lx(tx.GetTxid()), tx.serialize().hex()))
        if echo:
            echo(f"  {runner.name}: {len(signed)} transactions signed; sending")
        t0 = time.perf_counter()
        for txid, hexstr in signed:
            if rpc.sendrawtransaction(hexstr) != txid:
                raise RuntimeError("node returned a different txid")
        t_send = time.perf_counter() - t0
        t0 = time.perf_counter()
        blocks = 0
        while rpc.getmempoolinfo()["size"]:
            rpc.generatetoaddress(1, address)
            blocks += 1
        t_mine = time.perf_counter() - t0
        confirmed = sum(1 for txid, _ in signed[:: max(1, len(signed) // 20)]
                        if rpc.getrawtransaction(txid, True).get("confirmations", 0) >= 1)
        return {
            "engine": runner.name,
            "start_s": round(t_start, 4),
            "blocks_101_s": round(t_101, 4),
            "blocks_1x100_s": round(t_1x100, 4),
            "send_s": round(t_send, 4),
            "send_tx_per_s": round(len(signed) / t_send, 1),
            "mine_s": round(t_mine, 4),
            "mine_blocks": blocks,
            "transactions": len(signed),
            "sampled_confirmed": confirmed,
        }
    finally:
        runner.stop(rpc)


def run_engine_bench(txs: int = 1000, engines: str = "auto", bitcoind: str | None = None,
                     echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the benchmark on each requested engine; ratios are embedded / bitcoind."""
    binary = find_bitcoind(bitcoind)
    wanted = ["embedded", "bitcoind"] if engines == "auto" else [e.strip() for e in engines.split(",")]
    if "embedded" in wanted and "embedded-nofsync" not in wanted:
        wanted.insert(wanted.index("embedded") + 1, "embedded-nofsync")
    results: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for name in wanted:
        if name == "bitcoind" and binary is None:
            skipped["bitcoind"] = "bitcoind not found (set BITCOIND or put it on PATH)"
            continue
        tmp = Path(tempfile.mkdtemp(prefix=f"btcmicro-bench-{name}-"))
        try:
            if echo:
                echo(f"benchmarking {name}…")
            runner: _EmbeddedProcess | _BitcoindProcess
            if name in ("embedded", "embedded-nofsync"):
                runner = _EmbeddedProcess(tmp, fsync=name == "embedded")
            elif name == "bitcoind":
                runner = _BitcoindProcess(tmp, binary or "")
            else:
                raise ValueError(f"unknown engine {name!r} (embedded, embedded-nofsync, bitcoind)")
            results.append(_bench_one(runner, txs, echo))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    report: dict[str, Any] = {"machine": machine_description(), "transactions": txs, "results": results,
                              "skipped": skipped}
    by = {r["engine"]: r for r in results}
    timed = ("start_s", "blocks_101_s", "blocks_1x100_s", "send_s", "mine_s")
    if "embedded" in by and "bitcoind" in by:
        e, b = by["embedded"], by["bitcoind"]
        report["ratios_embedded_over_bitcoind"] = {k: round(e[k] / b[k], 2) for k in timed if b[k]}
    if "embedded" in by and "embedded-nofsync" in by:
        e, n = by["embedded"], by["embedded-nofsync"]
        report["durability_cost"] = {k: round(e[k] / n[k], 2) for k in timed if n[k]}
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = [f"machine: {report['machine']}", f"transactions: {report['transactions']}", ""]
    header = (f"{'engine':<17} {'start':>8} {'101 blocks':>11} {'100 x 1 block':>14} {'send':>9} {'tx/s':>8} "
              f"{'mine':>8} {'blocks':>7}")
    lines += [header, "-" * len(header)]
    for r in report["results"]:
        lines.append(f"{r['engine']:<17} {r['start_s']:>7.3f}s {r['blocks_101_s']:>10.3f}s "
                     f"{r['blocks_1x100_s']:>13.3f}s {r['send_s']:>8.3f}s "
                     f"{r['send_tx_per_s']:>8.0f} {r['mine_s']:>7.3f}s {r['mine_blocks']:>7}")
    for name, why in report["skipped"].items():
        lines.append(f"{name:<17} skipped: {why}")
    if "durability_cost" in report:
        lines.append("")
        lines.append("crash safety (embedded / embedded-nofsync): " + ", ".join(
            f"{k.removesuffix('_s')} {v}×" for k, v in report["durability_cost"].items()))
    if "ratios_embedded_over_bitcoind" in report:
        lines.append("")
        lines.append("embedded / bitcoind: " + ", ".join(
            f"{k.removesuffix('_s')} {v}×" for k, v in report["ratios_embedded_over_bitcoind"].items()))
    return "\n".join(lines)
