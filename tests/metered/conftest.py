"""The metered service's test kit: a key server, a router (channel server + metering proxy), the
client app and a local file server, all on loopback against the session's node; and a headless
Chromium (Debian's, driven by Playwright) kept off the network.

Every verdict about a transaction comes from the node.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from btcmicro.channels.bitcoinj import PaymentChannelServer, ServerConfig, SQLiteServerStore
from btcmicro.channels.bitcoinj.metered import JSONAccountStore, KeyServer, MeteredRouter, Tariff, seal_key
from btcmicro.core.keys import PrivateKey
from btcmicro.node.chain import RPCChain
from btcmicro.service.keyserver import create_keyserver_app
from btcmicro.service.meter import MeterApp, MeterService
from btcmicro.service.proxy import FileServer
from btcmicro.service.router import RouterService
from btcmicro.service.runner import ServiceThread

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
USER, PASSWORD = "alice", "correct horse battery staple"
DEPOSIT = 100_000  # 10 MB at 10,000 sats / MB
WINDOW = 3_600  # the refund's lock time: 6 blocks ahead
ROUTER_CONFIG = ServerConfig(expiry_by_height=True, min_time_window_secs=600, min_payment=10_000,
                             min_channel_size=50_000, close_margin_blocks=2, close_confirmations=3)
#: Where the browser tests save their screenshots; ``METERED_SCREENSHOTS=docs/img`` refreshes the docs' images.
SCREENSHOTS = Path(os.environ.get("METERED_SCREENSHOTS") or Path(tempfile.gettempdir()) / "btcmicro-screenshots")


@dataclass
class Stack:
    rpc: Any
    wallet: Any
    tmp: Path
    key: PrivateKey
    keyserver: ServiceThread
    router: Any  # a RouterService, or a RouterProcess
    router_store: SQLiteServerStore
    meter: MeterService
    files: FileServer

    @property
    def app(self) -> MeterApp:
        return self.meter.meter

    def mine(self, n: int = 1) -> None:
        self.wallet.mine_to_self(n)

    def height(self) -> int:
        return int(self.rpc.getblockcount())

    def download(self, name: str, *, rate: int | None = None, timeout: float = 30.0) -> int:
        """Fetch ``name`` from the file server through the router's proxy with this channel's grant;
        ``rate`` (bytes/s): the file server sends it at that steady rate."""
        proxy = self.app.session.proxy_credentials()
        assert proxy is not None, "no grant yet"
        got = 0
        url = f"{self.files.url}/{name}" + (f"?rate={rate}" if rate else "")
        with httpx.Client(proxy=proxy["with_credentials"], timeout=timeout, trust_env=False) as http, \
                http.stream("GET", url) as r:
            r.raise_for_status()
            for chunk in r.iter_bytes():
                got += len(chunk)
        return got

    def login_api(self) -> None:
        """Log in through the client app's API (no browser) and wait for the channel to open."""
        with httpx.Client(base_url=self.meter.url, trust_env=False) as api:
            r = api.post("/api/login", json={"username": USER, "password": PASSWORD})
            assert r.status_code == 200, r.text
        self.wait(lambda: self.app.session.state.value == "open")

    @staticmethod
    def wait(cond: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, "timed out waiting for a condition"
            time.sleep(0.01)

    def usage(self) -> dict[str, Any]:
        txid = self.app.session.client.channel.deposit_txid  # type: ignore[union-attr]
        u = self.router.router.meter.usage(txid)
        assert u is not None
        return u.to_json()


def _file(directory: Path, name: str, size: int) -> None:
    (directory / name).write_bytes(os.urandom(size))


class RouterProcess:
    """``btcmicro router serve`` in a process of its own (killed with SIGKILL by :meth:`stop`)."""

    def __init__(self, node: Any, home: Path) -> None:
        self.port, proxy_port = _free_port(), _free_port()
        self.url, self.proxy_url = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{proxy_port}"
        args = ["--datadir", str(home), "--url", node.url, "--cookie", str(node.cookie_path), "router", "serve",
                "--port", str(self.port), "--proxy-port", str(proxy_port), "--min-window", "600",
                "--close-margin-blocks", "2"]
        self.proc = subprocess.Popen([sys.executable, "-m", "btcmicro.cli", *args],
                                     env={**os.environ, "BTCMICRO_PASSPHRASE": "router secret"},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        Stack.wait(lambda: self._answers(), timeout=30)

    def _answers(self) -> bool:
        assert self.proc.poll() is None, "router serve exited"
        try:
            return httpx.get(f"{self.url}/meter", timeout=1, trust_env=False).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # SIGKILL: nothing is settled on the way out
        self.proc.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _stack(rpc: Any, funded: Any, tmp_path: Path, node: Any = None) -> Iterator[Stack]:
    """Every party on loopback; the router in this process, or (``node`` given) as a process."""
    key = PrivateKey.generate()
    funded.send_many([(funded.address("p2wpkh", key), 300_000)])
    funded.mine_to_self(1)
    keys = KeyServer(JSONAccountStore(tmp_path / "accounts.json"))
    keys.enroll(seal_key(USER, PASSWORD, key))
    files_dir = tmp_path / "files"
    files_dir.mkdir()
    _file(files_dir, "5mb.bin", 5_000_000)
    _file(files_dir, "1500k.bin", 1_500_000)
    router_store = SQLiteServerStore(tmp_path / "router.db", passphrase="router secret")
    started: list[Any] = []
    try:
        keyserver = ServiceThread(create_keyserver_app(keys)).start()
        started.append(keyserver)
        if node is None:
            router = MeteredRouter(PaymentChannelServer(RPCChain(rpc), router_store, config=ROUTER_CONFIG), Tariff())
            router_svc: Any = RouterService(router).start()
        else:
            router_svc = RouterProcess(node, tmp_path / "router-home")
        started.append(router_svc)
        files = FileServer(files_dir).start()
        started.append(files)
        app = MeterApp(rpc, keyserver.url, router_svc.url, tmp_path / "meter", deposit=DEPOSIT, window_secs=WINDOW,
                       page_timeout=3.0)
        meter = MeterService(app).start()
        started.append(meter)
        yield Stack(rpc, funded, tmp_path, key, keyserver, router_svc, router_store, meter, files)
    finally:
        for s in reversed(started):
            s.stop()
        router_store.close()


@pytest.fixture
def stack(rpc, funded, tmp_path) -> Iterator[Stack]:
    """Key server, router (in this process), client app and file server."""
    with _stack(rpc, funded, tmp_path) as st:
        yield st


@pytest.fixture
def stack_router_process(node, rpc, funded, tmp_path) -> Iterator[Stack]:
    """The same, with the router as ``btcmicro router serve`` in a process of its own."""
    with _stack(rpc, funded, tmp_path, node) as st:
        yield st


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415  (heavy; only the browser tests need it)

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-background-networking", "--no-first-run", "--disable-sync",
            "--disable-component-update", "--disable-default-apps", "--disable-extensions",
            "--metrics-recording-only", "--no-default-browser-check", "--disable-dev-shm-usage",
            "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1;localhost",
        ])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    try:
        yield pg
    finally:
        context.close()
