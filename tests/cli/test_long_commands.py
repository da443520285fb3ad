"""Long commands say what they did (issue 19, item 4): ``micropay2 pay`` that runs out of escrows reports the
pages bought, the wins, why it stopped and what to do next, instead of only "insufficient funds"; an escrow
past its expiry is listed as expired, not live. Real VTS and merchant servers, a real node."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from btcmicro.cli import main
from btcmicro.cli._common import PASSPHRASE_ENV
from btcmicro.wallet import Wallet

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cli(node, tmp_path, monkeypatch):
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    base = ["--datadir", str(tmp_path / "home"), "--url", node.url, "--cookie", str(node.cookie_path)]
    children: list[subprocess.Popen[bytes]] = []

    def run(*args: str, code: int = 0) -> tuple[dict, str]:
        result = CliRunner().invoke(main, [*base, "--json", *args])
        assert result.exit_code == code, result.output
        return json.loads(result.stdout), result.stderr

    def serve(*args: str) -> str:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "btcmicro.cli", *base, *args, "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # poll until the child answers (it imports and opens its stores first)
            assert proc.poll() is None, f"{args[0]} serve exited"
            try:
                httpx.get(url + "/openapi.json", timeout=1)
                return url
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)

    run.serve = serve  # type: ignore[attr-defined]
    yield run
    for p in children:
        p.terminate()
        p.wait(10)


def test_pay_that_runs_out_says_what_it_did_and_what_to_do(cli, funded, rpc, tmp_path):
    wallet = Wallet(rpc, directory=tmp_path / "home" / "wallet")
    funded.send(wallet.address(), 1_000_000)
    funded.confirm(1)
    vts = cli.serve("vts", "serve")
    shop = cli.serve("merchant", "serve", "--vts", vts, "--price", "40000", "--k", "1")
    cli("micropay2", "escrow", "--vts", vts, "--count", "2", "--value", "84000", "--expiry-blocks", "14",
        "--max-price", "40000")

    # rho = 1/2: each win retires its escrow, so 40 pages outlast 2 escrows (all but 41 / 2^40 of the time)
    data, err = cli("micropay2", "pay", shop, "--count", "40", code=1)
    assert data["requested"] == 40 and 2 <= data["tickets"] < 40 and len(data["wins"]) == 2
    assert data["paid"] == sum(w["claim_value"] for w in data["wins"]) > 0
    assert data["next"].startswith("all 2 escrows used") and "micropay2 escrow" in data["next"]
    assert err.count("\n") == 1 and err.startswith(f"error: stopped after {data['tickets']} of 40 pages")

    # an escrow nobody used, past its expiry: listed as expired (refundable), not live
    cli("micropay2", "escrow", "--count", "1", "--value", "84000", "--expiry-blocks", "13")
    listed, _ = cli("micropay2", "escrow", "--list")
    assert sorted(e["status"] for e in listed["escrows"]).count("live") == 1
    funded.confirm(13)
    listed, _ = cli("micropay2", "escrow", "--list")
    fresh = [e for e in listed["escrows"] if e["tickets"] == 0 and e["spent_txid"] is None]
    assert [e["status"] for e in fresh] == ["expired"] and fresh[0]["expiry"] <= rpc.getblockcount()
    refunds, _ = cli("micropay2", "refund")
    assert len(refunds["refunds"]) >= 1 and all(rpc.getmempoolentry(r) for r in refunds["refunds"])
