"""The command line run for real in tests: :class:`Cli` invokes ``btcmicro`` through click with a datadir on a
node and ``--json``, and starts its servers as child processes (the ``cli`` fixture of tests/conftest.py)."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
from click.testing import CliRunner

from btcmicro.cli import main
from btcmicro.node.bitcoind import free_port


class Cli:
    """``btcmicro`` on a node's datadir: call it with a command's words for its ``--json`` answer."""

    def __init__(self, node, datadir) -> None:
        self.base = ["--datadir", str(datadir), "--url", node.url, "--cookie", str(node.cookie_path)]
        self.children: list[subprocess.Popen] = []

    def __call__(self, *args: str, code: int = 0) -> dict:
        result = CliRunner().invoke(main, [*self.base, "--json", *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return json.loads(result.output)

    def serve(self, *args: str) -> str:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "btcmicro.cli", *self.base, *args, "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.children.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # poll until the child answers (it has to import and open its stores first)
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                if httpx.get(url + "/openapi.json", timeout=1).status_code == 200:
                    return url
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)

    def close(self) -> None:
        for p in self.children:
            p.terminate()
            p.wait(10)
            p.stderr.close()
