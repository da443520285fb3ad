"""``btcmicro bench metered``: the metering proxy's throughput with and without metering, same run.

Loopback only: a local file server, the proxy (the same :class:`~btcmicro.service.proxy.MeteringProxy`
code twice: once with a :class:`~btcmicro.channels.bitcoinj.metered.Meter` and a grant whose prepaid
allotment covers the whole run, once without a meter), and a raw-socket client that reads each
download to the end. Rounds are interleaved (direct, then the two proxies in alternating order) so
both proxies see the same machine state; the report gives each one's median MB/s and the metered/unmetered ratio
(the issue's target: at least 0.8).
"""
from __future__ import annotations

import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from btcmicro.bench.engine import machine_description
from btcmicro.channels.bitcoinj.metered.meter import MEGABYTE, Meter, Tariff
from btcmicro.service.proxy import FileServer, MeteringProxy, ProxyThread, proxy_authorization

__all__ = ["run_metered_bench", "format_report", "TARGET_RATIO"]

TARGET_RATIO = 0.8
_CHANNEL = "00" * 32


def _fetch(url: str, proxy: str | None, auth: str | None) -> int:
    """Bytes of one whole answer (headers included) read through ``proxy`` (or directly)."""
    u = urlsplit(proxy or url)
    target = url if proxy else (urlsplit(url).path or "/")
    head = f"GET {target} HTTP/1.1\r\nHost: {urlsplit(url).netloc}\r\nConnection: close\r\n"
    if auth:
        head += f"Proxy-Authorization: {auth}\r\n"
    got = 0
    with socket.create_connection((u.hostname or "127.0.0.1", u.port or 80)) as s:
        s.sendall((head + "\r\n").encode())
        buf = bytearray(1 << 20)
        while n := s.recv_into(buf):
            got += n
    return got


def run_metered_bench(megabytes: int = 64, rounds: int = 5,
                      echo: Callable[[str], None] | None = None) -> dict[str, Any]:
    say = echo or (lambda _m: None)
    size = megabytes * MEGABYTE
    meter = Meter(Tariff())
    meter.open(_CHANNEL, 10 ** 12, 10 ** 10)  # prepaid far beyond the run: metering without stalls
    auth = proxy_authorization(_CHANNEL, "bench")
    runs: dict[str, list[float]] = {"direct": [], "unmetered proxy": [], "metered proxy": []}
    with tempfile.TemporaryDirectory(prefix="btcmicro-bench-metered-") as tmp:
        (Path(tmp) / "blob").write_bytes(os.urandom(size))
        with FileServer(tmp) as files, \
                ProxyThread(MeteringProxy(None)) as plain, \
                ProxyThread(MeteringProxy(meter, lambda user, password: _CHANNEL)) as metered:
            url = f"{files.url}/blob"
            _fetch(url, plain.url, None)  # warm up both paths once
            _fetch(url, metered.url, auth)
            for r in range(rounds):
                order = [("unmetered proxy", plain.url, None), ("metered proxy", metered.url, auth)]
                if r % 2:
                    order.reverse()  # neither proxy always runs right after the direct download
                for name, proxy, a in [("direct", None, None), *order]:
                    t0 = time.perf_counter()
                    got = _fetch(url, proxy, a)
                    dt = time.perf_counter() - t0
                    if got < size:
                        raise RuntimeError(f"{name}: {got} of {size} bytes")
                    runs[name].append(size / MEGABYTE / dt)
                say(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.0f} MB/s" for k, v in runs.items()))
    usage = meter.usage(_CHANNEL)
    assert usage is not None
    med = {k: statistics.median(v) for k, v in runs.items()}
    ratio = med["metered proxy"] / med["unmetered proxy"]
    return {"machine": machine_description(),
            "megabytes_per_download": megabytes, "rounds": rounds,
            "mb_per_s": {k: [round(x, 1) for x in v] for k, v in runs.items()},
            "median_mb_per_s": {k: round(v, 1) for k, v in med.items()},
            "metered_over_unmetered": round(ratio, 3), "target": TARGET_RATIO, "met": ratio >= TARGET_RATIO,
            "bytes_metered": usage.used_bytes}


def format_report(r: dict[str, Any]) -> str:
    m = r["median_mb_per_s"]
    lines = [f"machine: {r['machine']}",
             f"{r['megabytes_per_download']} MB per download, {r['rounds']} interleaved rounds, loopback "
             "(file server -> proxy -> raw socket client); median MB/s:"]
    lines += [f"  {k:<16}{v:>10.1f}" for k, v in m.items()]
    lines.append(f"metered / unmetered: {r['metered_over_unmetered']:.3f} (target >= {r['target']}: "
                 f"{'met' if r['met'] else 'MISSED'}); {r['bytes_metered']:,} bytes counted by the meter")
    return "\n".join(lines)
