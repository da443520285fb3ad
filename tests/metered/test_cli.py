"""The three services start with one command each (``keyserver serve``, ``router serve``, ``meter
serve``), work together on the node, and stop cleanly on SIGTERM; CLI errors are one line."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from btcmicro.cli import main
from btcmicro.service.proxy import FileServer

pytestmark = [pytest.mark.integration]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_three_commands_serve_the_metered_service(node, funded, tmp_path):
    env = {**os.environ, "BTCMICRO_PASSPHRASE": "router secret", "BTCMICRO_METER_PASSWORD": "pw of alice"}
    base = ["--datadir", str(tmp_path / "home"), "--url", node.url, "--cookie", str(node.cookie_path)]
    ks, rt, px, mt = (_port() for _ in range(4))
    commands = {
        "keyserver": ["keyserver", "serve", "--port", str(ks)],
        "router": ["router", "serve", "--port", str(rt), "--proxy-port", str(px), "--min-window", "600",
                   "--close-margin-blocks", "2"],
        "meter": ["meter", "serve", "--port", str(mt), "--keyserver", f"http://127.0.0.1:{ks}",
                  "--router", f"http://127.0.0.1:{rt}", "--window", "3600", "--page-timeout", "0",
                  "--deposit", "60000"],
    }
    procs = {name: subprocess.Popen([sys.executable, "-m", "btcmicro.cli", *base, *args], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name, args in commands.items()}
    try:
        for port in (ks, rt, mt):
            deadline = time.monotonic() + 30
            while True:
                assert all(p.poll() is None for p in procs.values()), {n: p.poll() for n, p in procs.items()}
                try:
                    httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1, trust_env=False)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
        runner = CliRunner(env={"BTCMICRO_METER_PASSWORD": "pw of alice"})
        result = runner.invoke(main, [*base, "--json", "keyserver", "add-user", "alice", "--url",
                                      f"http://127.0.0.1:{ks}"])
        assert result.exit_code == 0, result.output
        address = json.loads(result.stdout)["address"]
        funded.send_many([(address, 200_000)])
        funded.mine_to_self(1)
        bad = runner.invoke(main, [*base, "keyserver", "add-user", "alice", "--url", f"http://127.0.0.1:{ks}"])
        assert bad.exit_code != 0 and "taken" in str(bad.exception)  # the key server refuses a second alice

        with httpx.Client(base_url=f"http://127.0.0.1:{mt}", trust_env=False, timeout=30) as app:
            assert app.get("/api/terms").json()["proxy_url"] == f"http://127.0.0.1:{px}"
            assert app.post("/api/login", json={"username": "alice", "password": "pw of alice"}).status_code == 200
            deadline = time.monotonic() + 30
            while (state := app.get("/api/state").json())["state"] != "open":
                assert time.monotonic() < deadline and state["state"] != "failed", state
                time.sleep(0.02)
            (tmp_path / "files").mkdir()
            (tmp_path / "files" / "blob").write_bytes(os.urandom(1_500_000))
            with FileServer(tmp_path / "files") as files, \
                    httpx.Client(proxy=state["proxy"]["with_credentials"], trust_env=False, timeout=30) as http:
                assert len(http.get(f"{files.url}/blob").content) == 1_500_000  # paid a second megabyte on the way
            r = app.post("/api/logout").json()
            assert r["state"] == "closed" and r["paid"] == 20_000, r
        funded.mine_to_self(1)
        close = node.rpc.getrawtransaction(r["close_tx"]["txid"], True)
        assert close["confirmations"] == 1
    finally:
        for p in procs.values():
            p.terminate()
        outputs = {name: p.communicate(timeout=20) for name, p in procs.items()}
    for name, p in procs.items():
        assert p.returncode == 0, (name, outputs[name])
        assert b"Traceback" not in outputs[name][1], outputs[name][1].decode()


def test_cli_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(main, ["--datadir", str(tmp_path), "router", "serve", "--price", "3",
                                       "--increment", "1", "--port", "0"], standalone_mode=False)
    assert isinstance(result.exception, Exception) and "whole number of sats" in str(result.exception)
    proc = subprocess.run([sys.executable, "-m", "btcmicro.cli", "--datadir", str(tmp_path), "keyserver",
                           "add-user", "bad name", "--url", f"http://127.0.0.1:{_port()}"],
                          env={**os.environ, "BTCMICRO_METER_PASSWORD": "x"}, capture_output=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.decode().count("\n") == 1 and b"Traceback" not in proc.stderr
