"""Several merchant and VTS processes on one PostgreSQL store, on the node (both engines): the
commands a deployment runs (``merchant serve --workers 2 --store postgresql://…``, two ``vts serve``
replicas), a real PostgreSQL server, payers and claims judged by the node.

- a ticket bought at one merchant process and replayed to another is refused;
- 100 concurrent claims on one escrow spread over two VTS processes yield exactly one signature,
  and the board the two replicas append to stays one hash chain;
- a merchant worker killed (SIGKILL) in the middle of a burst loses no acknowledged ticket, and the
  supervisor replaces it.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from btcmicro.core.errors import BtcmicroError
from btcmicro.lottery.micropay2 import AlreadyClaimed, Merchant, Payer, SQLiteMerchantStore, SQLitePayerStore, wins
from btcmicro.lottery.micropay2.postgres import PostgresMerchantStore, PostgresVTSStore
from btcmicro.lottery.vts import verify_log
from btcmicro.node.chain import RPCChain
from btcmicro.service.merchant import PayerClient
from btcmicro.service.vts import HTTPVTS

pytestmark = [pytest.mark.integration, pytest.mark.both_engines]

PRICE = 20_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry.name))
    return sorted(out)


class Servers:
    """``btcmicro … serve`` child processes on one datadir and one node."""

    def __init__(self, node: Any, datadir: Path) -> None:
        self.base = ["--datadir", str(datadir), "--url", node.url, "--cookie", str(node.cookie_path)]
        self.children: list[subprocess.Popen[bytes]] = []

    def run(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "btcmicro.cli", *self.base, *args], capture_output=True,
                              check=True)
        return done.stdout.decode().strip()

    def serve(self, *args: str, port: int = 0) -> tuple[str, subprocess.Popen[bytes]]:
        port = port or _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "btcmicro.cli", *self.base, *args, "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.children.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # until it answers (imports, store, workers)
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(url + "/openapi.json", timeout=2).status_code == 200:
                    return url, proc
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)

    def close(self) -> str:
        err = []
        children, self.children = self.children, []
        for p in children:
            p.terminate()
            p.wait(30)
            if p.stderr:
                err.append(p.stderr.read().decode())
                p.stderr.close()
        return "".join(err)


@pytest.fixture
def servers(node: Any, tmp_path: Path) -> Iterator[Servers]:
    s = Servers(node, tmp_path / "home")
    yield s
    s.close()


def _payer(rpc: Any, funded: Any, tmp_path: Path, vts_pk: bytes, n: int, value: int) -> Payer:
    chain = RPCChain(rpc)
    p = Payer(secrets.token_bytes(32), chain, SQLitePayerStore(tmp_path / f"payer-{secrets.token_hex(4)}.sqlite"),
              [vts_pk], funder=funded, max_price=PRICE, max_overpay=Fraction(3, 2))
    p.fund_escrows([value] * n, chain.height() + 60)
    funded.confirm(1)
    p.refresh()
    return p


def test_merchant_and_vts_processes_share_one_postgres_store(servers, rpc, funded, tmp_path, postgres_url):
    vts_pk = bytes.fromhex(servers.run("vts", "pubkey"))
    vts_a, _ = servers.serve("vts", "serve", "--store", postgres_url)
    vts_b, _ = servers.serve("vts", "serve", "--store", postgres_url)
    common = ["--vts-key", vts_pk.hex(), "--price", str(PRICE), "--k", "1", "--store", postgres_url]
    shop, _ = servers.serve("merchant", "serve", "--vts", vts_a, *common, "--workers", "2")
    other, _ = servers.serve("merchant", "serve", "--vts", vts_b, *common)  # another process, same merchant

    # pages bought at the two-worker merchant; each ticket replayed to the other process is refused
    payer = _payer(rpc, funded, tmp_path, vts_pk, 6, 2 * PRICE + 5_000)
    bought = []
    with PayerClient(payer, shop) as client, httpx.Client() as replay:
        while sum(b.won for b in bought) < 2 and len(bought) < 30:
            bought.append(client.purchase())
            for url in (other, shop):
                r = replay.post(url + "/buy", json={"ticket": bought[-1].ticket.to_b64()})
                # refused: as a replay, or (a winner's escrow, claimed meanwhile) before the replay check
                assert (r.status_code, r.json()["error"]["code"]) in (
                    (409, "REPLAYED"), (409, "ESCROW_CLAIMED"), (400, "ESCROW_SPENT")), r.text
    assert sum(b.won for b in bought) >= 1, "rho = 1/2: 30 tickets without a win has probability 2^-30"

    # 100 concurrent claims on one fresh escrow, spread over the two VTS processes: one signature
    racer = _payer(rpc, funded, tmp_path, vts_pk, 1, 2 * PRICE + 5_000)
    ref = racer.escrow_ref(racer.escrows()[0])
    xs = []
    while len(xs) < 100:
        m = Merchant(secrets.token_bytes(32), RPCChain(rpc), SQLiteMerchantStore(":memory:"), [vts_pk],
                     price=PRICE, k=1)
        t = racer.sign_ticket(ref, m.request(), ref.value - 2_000)
        if wins(m.r1(t), t.r2, t.k):
            xs.append(t.witness(m.r1(t)))
    signed: list[Any] = []
    refused: list[AlreadyClaimed] = []
    start = threading.Barrier(20)

    def claim(i: int) -> None:
        with HTTPVTS((vts_a, vts_b)[i % 2], vts_pk) as vts:
            start.wait()
            for x in xs[i::20]:
                try:
                    signed.append(vts.claim(x))
                except AlreadyClaimed as e:
                    refused.append(e)
    threads = [threading.Thread(target=claim, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(signed) == 1 and len(refused) == 99 and {e.entry.encode() for e in refused} == {signed[0].encode()}

    # the merchant's winners are claimed in the background by whichever worker took them; the board
    # both replicas append to stays one hash chain, the same from either
    store = PostgresMerchantStore(postgres_url)
    vstore = PostgresVTSStore(postgres_url)
    try:
        deadline = time.monotonic() + 60
        while {w.status for w in store.wins()} != {"broadcast"}:
            assert time.monotonic() < deadline, [(w.status, w.detail) for w in store.wins()]
            time.sleep(0.1)
        assert {w.c for w in store.wins()} == {b.ticket.c for b in bought if b.won}
        assert all(store.seen(b.ticket.c) for b in bought) and store.count()[0] == len(bought)
        with HTTPVTS(vts_a, vts_pk) as a, HTTPVTS(vts_b, vts_pk) as b:
            board = a.entries()
            assert board == b.entries() == vstore.entries(vts_pk)
        assert len(board) == len(store.wins()) + 1 and verify_log(board, vts_pk) == board[-1].hash
    finally:
        store.close()
        vstore.close()


def test_a_merchant_worker_killed_mid_burst_loses_no_acknowledged_ticket(servers, rpc, funded, tmp_path,
                                                                         postgres_url):
    vts_pk = bytes.fromhex(servers.run("vts", "pubkey"))
    port = _free_port()  # two VTS replicas on one port (SO_REUSEPORT): the second bind would fail without it
    vts, _ = servers.serve("vts", "serve", "--store", postgres_url, "--reuse-port", port=port)
    assert servers.serve("vts", "serve", "--store", postgres_url, "--reuse-port", port=port)[0] == vts
    shop, parent = servers.serve("merchant", "serve", "--vts", vts, "--vts-key", vts_pk.hex(), "--price", "1000",
                                 "--k", "12", "--store", postgres_url, "--workers", "2")
    workers = _children(parent.pid)
    assert len(workers) == 2
    acknowledged: list[bytes] = []
    failures: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()
    stop = threading.Event()

    def buyer(payer: Payer) -> None:
        while not stop.is_set():
            with PayerClient(payer, shop, timeout=10) as client:  # a new connection after each failure
                try:
                    while not stop.is_set():
                        p = client.purchase()
                        with lock:
                            acknowledged.append(p.ticket.c)
                            if len(acknowledged) >= 60:
                                stop.set()
                except (BtcmicroError, httpx.HTTPError) as e:
                    with lock:
                        failures.append(f"{type(e).__name__}: {e}")
                    if not killed.is_set():
                        raise

    payers = [Payer(secrets.token_bytes(32), RPCChain(rpc), SQLitePayerStore(":memory:"), [vts_pk], funder=funded,
                    max_price=1_000, max_k=12, max_overpay=Fraction(1, 2)) for _ in range(4)]
    for p in payers:
        p.fund_escrows([(1_000 << 12) + 5_000], RPCChain(rpc).height() + 60)
    funded.confirm(1)
    for p in payers:
        p.refresh()
    threads = [threading.Thread(target=buyer, args=(p,)) for p in payers]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 15:  # mid-burst: tickets are being bought on every thread
        assert time.monotonic() < deadline and all(t.is_alive() for t in threads)
        time.sleep(0.01)
    killed.set()
    os.kill(workers[0], signal.SIGKILL)
    for t in threads:
        t.join(60)
    assert stop.is_set() and len(acknowledged) >= 60
    store = PostgresMerchantStore(postgres_url)
    try:
        lost = [c.hex() for c in acknowledged if not store.seen(c)]
        assert lost == [] and len(set(acknowledged)) == len(acknowledged)
    finally:
        store.close()
    deadline = time.monotonic() + 30
    while len(_children(parent.pid)) != 2 or workers[0] in _children(parent.pid):  # the supervisor replaced it
        assert time.monotonic() < deadline, (workers, _children(parent.pid), servers.close())
        time.sleep(0.05)
    with PayerClient(payers[0], shop) as client:
        assert client.purchase().page
