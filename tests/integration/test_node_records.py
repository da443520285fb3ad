"""Node records that cannot lie, and stable addresses (issue 13), through the ``btcmicro`` command:

- ``regtest start`` after a SIGKILL brings the same chain back on the same address, with one
  command and a clear message;
- ``regtest stop`` on a stale record whose pid now belongs to another (live) process signals
  nothing;
- a foreground ``regtest start`` writes the record (other commands find the node) and removes it
  on exit.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from btcmicro.node.bitcoind import free_port
from btcmicro.node.launcher import read_node_record, write_node_record
from btcmicro.pytest_plugin import NO_BITCOIND, bitcoind_path

pytestmark = pytest.mark.integration


@pytest.fixture(params=["embedded", "bitcoind"])
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "bitcoind" and bitcoind_path() is None:
        pytest.skip(NO_BITCOIND)
    return str(request.param)


def btcmicro(datadir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "btcmicro.cli", "--datadir", str(datadir), *args],
                          capture_output=True, text=True, timeout=180)
    if check and proc.returncode != 0:
        raise AssertionError(f"btcmicro {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or
             Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] in "ZX", what=f"pid {pid} to die")


def test_start_after_sigkill_recovers_same_chain_same_address(engine: str, tmp_path: Path) -> None:
    datadir, port = tmp_path / "dd", free_port()
    info = json.loads(btcmicro(datadir, "regtest", "start", "--engine", engine, "--detach",
                               "--rpcport", str(port), "--json").stdout)
    assert info["url"] == f"http://127.0.0.1:{port}" and info["pid_start"] > 0
    try:
        mined = json.loads(btcmicro(datadir, "mine", "101", "--json").stdout)
        kill9(info["pid"])
        status = btcmicro(datadir, "regtest", "status", check=False)
        assert status.returncode == 1 and "stale record" in status.stdout
        again = btcmicro(datadir, "regtest", "start", "--engine", engine, "--detach", "--json")
        assert "was gone: it did not stop cleanly; started it again on the same chain" in again.stderr
        record = json.loads(again.stdout)
        assert record["url"] == info["url"] and record["recovered"] == info["pid"]
        status = json.loads(btcmicro(datadir, "regtest", "status", "--json").stdout)
        assert status["blocks"] == 101 and status["bestblockhash"] == mined["blocks"][-1]
        # a clean stop and start keeps the address too
        btcmicro(datadir, "regtest", "stop")
        record = json.loads(btcmicro(datadir, "regtest", "start", "--engine", engine, "--detach",
                                     "--json").stdout)
        assert record["url"] == info["url"] and "recovered" not in record
    finally:
        btcmicro(datadir, "regtest", "stop", check=False)


def test_stop_never_signals_a_process_that_reuses_the_recorded_pid(tmp_path: Path) -> None:
    datadir = tmp_path / "dd"
    info = json.loads(btcmicro(datadir, "regtest", "start", "--engine", "embedded", "--detach",
                               "--rpcport", str(free_port()), "--json").stdout)
    kill9(info["pid"])
    # The pid goes to a process of ours (as the OS may hand a dead node's pid to anything).
    foreign = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        record = read_node_record(datadir / "node")
        assert record is not None
        write_node_record(datadir / "node", {**record, "pid": foreign.pid})  # keeps the dead node's start time
        status = btcmicro(datadir, "regtest", "status", check=False)
        assert status.returncode == 1 and f"stale record of pid {foreign.pid}" in status.stdout
        stopped = btcmicro(datadir, "regtest", "stop")
        assert "stale record" in stopped.stdout and "nothing was signalled" in stopped.stdout
        assert foreign.poll() is None  # alive and untouched
        assert read_node_record(datadir / "node") is None
        # a record of an older btcmicro (pid only) naming the foreign process is not trusted either
        write_node_record(datadir / "node", {**record, "pid": foreign.pid})
        legacy = {k: v for k, v in json.loads((datadir / "node" / "btcmicro-node.json").read_text()).items()
                  if k not in ("pid_start", "boot_id")}
        (datadir / "node" / "btcmicro-node.json").write_text(json.dumps(legacy))
        assert json.loads(btcmicro(datadir, "regtest", "stop", "--json").stdout) == {"stopped": False, "stale": True}
        assert foreign.poll() is None
        # and start recovers on its own
        again = json.loads(btcmicro(datadir, "regtest", "start", "--engine", "embedded", "--detach",
                                    "--json").stdout)
        assert again["url"] == info["url"]
    finally:
        foreign.kill()
        foreign.wait()
        btcmicro(datadir, "regtest", "stop", check=False)


def test_foreground_start_writes_the_record_and_removes_it(engine: str, tmp_path: Path) -> None:
    datadir, port = tmp_path / "dd", free_port()
    fg = subprocess.Popen([sys.executable, "-m", "btcmicro.cli", "--datadir", str(datadir), "regtest", "start",
                           "--engine", engine, "--rpcport", str(port), "--json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: read_node_record(datadir / "node") is not None or fg.poll() is not None,
                 what="the foreground node's record")
        status = json.loads(btcmicro(datadir, "regtest", "status", "--json").stdout)
        assert status["running"] and status["url"] == f"http://127.0.0.1:{port}" and status["foreground"]
        mined = json.loads(btcmicro(datadir, "mine", "3", "--json").stdout)
        assert mined["height"] == 3
        assert json.loads(btcmicro(datadir, "regtest", "stop", "--json").stdout) == {"stopped": True}
        assert fg.wait(60) == 0
        assert read_node_record(datadir / "node") is None
        assert btcmicro(datadir, "regtest", "status", check=False).returncode == 1
    finally:
        if fg.poll() is None:
            fg.terminate()
            fg.wait(60)
        fg.communicate()


def test_a_client_made_from_the_record_follows_the_node_to_a_new_port(tmp_path: Path) -> None:
    from btcmicro.core.errors import NodeUnavailable
    from btcmicro.node.launcher import attach_record, start_detached, stop_detached

    nodedir = tmp_path / "node"
    first = start_detached("embedded", nodedir, rpc_port=free_port())
    try:
        with attach_record(nodedir) as rpc:  # as a service started from the record holds it
            rpc.generatetodescriptor(3, "raw(51)")
            stop_detached(nodedir)
            with pytest.raises(NodeUnavailable):
                rpc.getblockcount()  # the node is away: the record names no other address yet
            second = start_detached("embedded", nodedir, rpc_port=free_port())  # told to use another port
            assert second["url"] != first["url"]
            assert rpc.getblockcount() == 3  # re-read the record, moved, asked again
            assert len(rpc.generatetodescriptor(1, "raw(51)")) == 1
    finally:
        stop_detached(nodedir)
