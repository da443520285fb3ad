"""The README's command-line section, run in the order written, as a new user would type it.

Every ``btcmicro`` line of the section's ``sh`` blocks runs as a child process of a fresh shell-like
environment (a temporary HOME and datadir, no passphrase set until the README's own ``export``), against
the embedded engine that the README's ``regtest start --detach`` starts. Lines ending in ``&`` run in the
background until the end. The only changes made to the text are the placeholders a reader fills in
(listed in ``PLACEHOLDERS``, each required to appear), free ports for the README's fixed ones, and
``--engine embedded`` on the start line.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from btcmicro.channels.bitcoinj.templates import BitcoinjV2Channel
from btcmicro.contracts import Expiry
from btcmicro.core.keys import PrivateKey
from btcmicro.script.standard import p2wpkh, script_to_address

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PORTS = ("8335", "8401", "8402", "8421", "8422")


def readme_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The command line"):text.index("## As a library")]
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in re.sub(r"\\\n\s*", "", block).splitlines():  # a line ending in \ goes on in the next
            code = re.split(r"\s+#\s", line, maxsplit=1)[0].strip()
            if code:
                lines.append(code)
    return lines


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def btcmicro_command() -> list[str]:
    script = Path(sys.executable).parent / "btcmicro"
    return [str(script)] if script.exists() else [sys.executable, "-m", "btcmicro"]


def wait_http(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:  # the child imports, opens its stores, then binds: poll until it answers
        assert proc.poll() is None, f"{url}: the server exited: {proc.stderr.read() if proc.stderr else ''}"
        try:
            httpx.get(url + "/openapi.json", timeout=1)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{url} did not answer"
            time.sleep(0.1)


def test_readme_command_line_in_the_order_written(tmp_path):
    lines = readme_lines()
    assert lines[0] == "btcmicro regtest start --detach" and lines[-1] == "btcmicro regtest stop"
    # the order: the wallet is made and funded first, the passphrase exported afterwards
    first_export = next(i for i, line in enumerate(lines) if line.startswith("export BTCMICRO_PASSPHRASE="))
    assert any(line.startswith("btcmicro mine") for line in lines[:first_export])

    address = script_to_address(bytes(p2wpkh(PrivateKey.generate().pubkey)))
    script = BitcoinjV2Channel(PrivateKey.generate().pubkey, PrivateKey.generate().pubkey,
                               Expiry.height(500)).script.hex()
    assert script.startswith("63") and script.endswith("ac")
    ports = {p: free_port() for p in PORTS}
    found: dict[str, str] = {}
    placeholders = {"bcrt1q...": lambda: address, "TXID": lambda: found["txid"], "6321…ac": lambda: script}
    for token in placeholders:
        assert any(token in line.split() for line in lines), f"placeholder {token} no longer in the README"

    env = {k: v for k, v in os.environ.items() if not k.startswith("BTCMICRO_")}
    env.update(HOME=str(tmp_path), BTCMICRO_DATADIR=str(tmp_path / "datadir"), COLUMNS="120")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    background: list[subprocess.Popen[str]] = []
    transcript: list[str] = []
    try:
        for line in lines:
            if line.startswith("export "):
                name, _, value = line[len("export "):].partition("=")
                env[name] = "readme passphrase" if value == "..." else value
                continue
            words = shlex.split(line.rstrip("&").strip())
            assert words[0] == "btcmicro", line
            words = [placeholders[w]() if w in placeholders else w for w in words]
            words = [re.sub(r"\b(8335|8401|8402|8421|8422)\b", lambda m: ports[m.group(1)], w) for w in words]
            if words[1:3] == ["regtest", "start"]:
                words.append("--engine=embedded")
            argv = btcmicro_command() + words[1:]
            if line.endswith("&"):
                proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
                background.append(proc)
                wait_http(f"http://127.0.0.1:{words[words.index('--port') + 1]}", proc)
                continue
            started = time.monotonic()
            done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
            transcript.append(f"$ {line}  ({time.monotonic() - started:.1f}s)\n{done.stdout}{done.stderr}")
            assert "Traceback" not in done.stderr, transcript[-1]
            assert done.returncode == 0, "\n".join(transcript)
            if words[1] == "fund":
                found["txid"] = re.search(r"outpoint ([0-9a-f]{64}):\d+", done.stdout).group(1)
            if words[1:3] == ["wallet", "balance"]:
                assert "spendable   10,000,000,000 sats" in done.stdout, done.stdout  # two mature coinbases
            if words[1:3] == ["wallet", "coins"]:
                coins = json.loads(done.stdout)
                assert any(c["txid"] == found["txid"] for c in coins)  # the change of the `fund` above
            if words[1:3] == ["tx", "describe"]:
                assert "fee" in done.stdout and address in done.stdout
            if words[1:3] == ["wallet", "encrypt"]:
                assert "wallet/keystore.json: encrypted" in done.stdout
                keystore = json.loads((tmp_path / "datadir" / "wallet" / "keystore.json").read_text())
                assert keystore["kdf"] is not None and all("secret" not in k for k in keystore["keys"])
            if words[1:3] == ["micropay2", "pay"]:
                assert "bought" in done.stdout or "tickets" in done.stdout, done.stdout
            if words[1:3] == ["microcash", "refund"]:
                assert "refunded penalty" in done.stdout, done.stdout
        assert list((tmp_path / "out").glob("*.png")), "analyze revenue --plots out/ wrote no PNG"
        if os.environ.get("README_TRANSCRIPT"):  # a new user's view of the session, for the friction log
            Path(os.environ["README_TRANSCRIPT"]).write_text("\n".join(transcript))
    finally:
        for proc in background:
            proc.send_signal(signal.SIGTERM)
        for proc in background:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()
        subprocess.run(btcmicro_command() + ["regtest", "stop"], env=env, capture_output=True, timeout=60)
