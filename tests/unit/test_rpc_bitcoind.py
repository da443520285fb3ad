"""Process management of btcmicro.node.bitcoind, without a real bitcoind.

This machine has no bitcoind, so these tests run the lifecycle code (discovery, command line,
waiting out warm-up, stop -> SIGTERM -> SIGKILL escalation, temp-dir removal, cleanup after
errors) against a *stand-in executable* written below: a tiny HTTP server that writes a cookie
and answers ``getblockcount``/``stop`` the way bitcoind does.  It judges nothing about Bitcoin:
node behaviour is only ever tested against a real node (tests/integration).
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from btcmicro.core.errors import ConfigError
from btcmicro.node.bitcoind import BitcoindNode, bitcoind_args, find_bitcoind, free_port

STANDIN = textwrap.dedent('''\
    #!{python}
    import json, os, secrets, signal, sys, time, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    args = dict(a[1:].split("=", 1) if "=" in a else (a[1:], "1") for a in sys.argv[1:])
    mode = os.environ.get("STANDIN_MODE", "normal")
    datadir = args["datadir"]
    os.makedirs(os.path.join(datadir, "regtest"), exist_ok=True)
    with open(os.path.join(datadir, "argv.json"), "w") as f:
        json.dump(sys.argv[1:], f)
    with open(os.path.join(datadir, "pid"), "w") as f:
        f.write(str(os.getpid()))
    if mode == "crash":
        sys.stderr.write("Error: Cannot obtain a lock on data directory\\n")
        sys.exit(1)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    cookie = "__cookie__:" + secrets.token_hex(32)
    with open(os.path.join(datadir, "regtest", ".cookie"), "w") as f:
        f.write(cookie)
    import base64
    expected = "Basic " + base64.b64encode(cookie.encode()).decode()
    calls = [0]
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a): pass
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.headers.get("Authorization") != expected:
                self.send_response(401); self.send_header("Content-Length", "0"); self.end_headers(); return
            calls[0] += 1
            if mode == "warmup" and calls[0] < 4:
                warmup = {{"code": -28, "message": "Loading block index..."}}
                out = {{"result": None, "error": warmup, "id": body["id"]}}
            elif body["method"] == "stop":
                out = {{"result": "Bitcoin Core stopping", "error": None, "id": body["id"]}}
                if mode != "stubborn":
                    threading.Timer(0.1, lambda: os._exit(0)).start()
            else:
                out = {{"result": calls[0], "error": None, "id": body["id"]}}
            data = json.dumps(out).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers()
            self.wfile.write(data)
    if mode == "slow":
        time.sleep(0.5)
    ThreadingHTTPServer(("127.0.0.1", int(args["rpcport"])), H).serve_forever()
''')


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "bin" / "bitcoind"
    path.parent.mkdir()
    path.write_text(STANDIN.format(python=sys.executable))
    path.chmod(0o755)
    monkeypatch.delenv("BITCOIND", raising=False)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_find_bitcoind_order(standin: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_bitcoind() is None
    assert find_bitcoind(str(standin)) == str(standin.resolve())
    with pytest.raises(ConfigError):
        find_bitcoind(str(tmp_path / "nope"))
    monkeypatch.setenv("BITCOIND", str(standin))
    assert find_bitcoind() == str(standin.resolve())
    monkeypatch.setenv("BITCOIND", str(tmp_path / "typo"))
    with pytest.raises(ConfigError, match="BITCOIND"):
        find_bitcoind()
    monkeypatch.delenv("BITCOIND")
    monkeypatch.setenv("PATH", str(standin.parent))
    assert find_bitcoind() == str(standin)


def test_no_bitcoind_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("BITCOIND", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError, match="bitcoind not found"):
        BitcoindNode().start()


def test_command_line():
    args = bitcoind_args("/x/bitcoind", Path("/d"), 1234, 5678, ["-debug=rpc"])
    for expected in ("-regtest", "-datadir=/d", "-server=1", "-listen=0", "-disablewallet=1",
                     "-fallbackfee=0.0001", "-rpcport=1234", "-port=5678", "-printtoconsole=0",
                     "-rpcbind=127.0.0.1"):
        assert expected in args
    assert args[0] == "/x/bitcoind" and args[-1] == "-debug=rpc"
    assert 0 < free_port() < 65536


def test_start_stop_temp_datadir(standin: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STANDIN_MODE", "warmup")  # answers -28 three times first
    node = BitcoindNode(bitcoind=str(standin)).start()
    datadir, pid = node.datadir, node.pid
    assert datadir is not None and datadir.exists() and pid is not None
    assert node.cookie_path == datadir / "regtest" / ".cookie"
    assert node.url.startswith("http://127.0.0.1:")
    argv = json.loads((datadir / "argv.json").read_text())
    assert f"-rpcport={node.url.rsplit(':', 1)[1]}" in argv
    assert node.rpc.getblockcount() >= 4  # got past the warm-up answers
    node.stop()
    assert not _alive(pid)
    assert not datadir.exists()
    node.stop()  # idempotent


def test_given_datadir_is_kept(standin: Path, tmp_path: Path):
    d = tmp_path / "node"
    with BitcoindNode(d, bitcoind=str(standin)) as node:
        pid = node.pid
        assert pid is not None and node.running
    assert not _alive(pid)
    assert (d / "argv.json").exists()


def test_stubborn_process_is_killed(standin: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STANDIN_MODE", "stubborn")  # ignores RPC stop and SIGTERM
    node = BitcoindNode(bitcoind=str(standin), stop_timeout=0.5).start()
    pid = node.pid
    t = time.monotonic()
    node.stop()
    assert not _alive(pid)
    assert time.monotonic() - t < 20


def test_crash_at_startup_reports_stderr_and_cleans_up(standin: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STANDIN_MODE", "crash")
    node = BitcoindNode(bitcoind=str(standin))
    with pytest.raises(ConfigError, match="Cannot obtain a lock"):
        node.start()
    assert node.datadir is not None and not node.datadir.exists()


def test_keyboard_interrupt_during_start_leaves_nothing(standin: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    node = BitcoindNode(bitcoind=str(standin))

    def interrupted_wait(self, stderr_path):  # Ctrl-C while waiting for RPC to answer
        time.sleep(0.2)
        raise KeyboardInterrupt

    monkeypatch.setattr(BitcoindNode, "_wait_ready", interrupted_wait)
    with pytest.raises(KeyboardInterrupt):
        node.start()
    assert node.pid is None
    assert node.datadir is not None and not node.datadir.exists()
    assert not node.running


def test_forgotten_node_is_cleaned_by_finalizer(standin: Path):
    node = BitcoindNode(bitcoind=str(standin)).start()
    pid, datadir = node.pid, node.datadir
    del node
    gc.collect()
    assert pid is not None and not _alive(pid)
    assert datadir is not None and not datadir.exists()


def test_interpreter_exit_stops_node(standin: Path, tmp_path: Path):
    """A script that starts a node and dies with an exception leaves no process behind."""
    script = tmp_path / "s.py"
    script.write_text(textwrap.dedent(f"""
        from btcmicro.node.bitcoind import BitcoindNode
        node = BitcoindNode(bitcoind={str(standin)!r}).start()
        print(node.pid, node.datadir, flush=True)
        raise RuntimeError("boom")
    """))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 1 and "boom" in r.stderr
    pid_s, datadir = r.stdout.split()
    assert not _alive(int(pid_s))
    assert not Path(datadir).exists()


def test_detached_node_survives_and_stops_by_pid(standin: Path, tmp_path: Path):
    from btcmicro.node.bitcoind import terminate_pid

    node = BitcoindNode(tmp_path / "d", bitcoind=str(standin), detached=True).start()
    info = node.detach()
    assert info["engine"] == "bitcoind" and info["pid"] and info["url"] == node.url
    node.stop()  # no-op after detach
    assert _alive(info["pid"])
    assert terminate_pid(info["pid"], timeout=10)
    assert not _alive(info["pid"])


def test_bitcoind_args_listen_for_a_network():
    alone = bitcoind_args("/x/bitcoind", Path("/d"), 1234, 5678)
    assert "-listen=0" in alone and not any(a.startswith("-bind=") for a in alone)
    peer = bitcoind_args("/x/bitcoind", Path("/d"), 1234, 5678, listen=True)
    assert {"-listen=1", "-bind=127.0.0.1:5678", "-connect=0", "-port=5678"} <= set(peer)  # loopback, no auto peers
    assert "-listen=0" not in peer
