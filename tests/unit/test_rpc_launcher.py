"""btcmicro.node.launcher: engine choice and node records (no node needed)."""
from __future__ import annotations

from pathlib import Path

import pytest

from btcmicro.core.errors import ConfigError
from btcmicro.node.launcher import read_node_record, resolve_engine, write_node_record


def test_resolve_engine_without_bitcoind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BITCOIND", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert resolve_engine("auto") == ("embedded", None)
    assert resolve_engine("embedded") == ("embedded", None)
    with pytest.raises(ConfigError, match="bitcoind not found: set BITCOIND or put it on PATH"):
        resolve_engine("bitcoind")
    with pytest.raises(ConfigError, match="unknown engine"):
        resolve_engine("btcd")


def test_resolve_engine_with_bitcoind(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    exe = tmp_path / "bitcoind"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("BITCOIND", str(exe))
    assert resolve_engine("auto") == ("bitcoind", str(exe.resolve()))
    assert resolve_engine("embedded") == ("embedded", None)


def test_node_record_roundtrip(tmp_path: Path) -> None:
    assert read_node_record(tmp_path) is None
    info = {"url": "http://127.0.0.1:1", "cookie_file": "/x/.cookie", "pid": 123, "engine": "embedded"}
    path = write_node_record(tmp_path, info)
    assert path == tmp_path / "btcmicro-node.json"
    rec = read_node_record(tmp_path)
    assert rec is not None and {k: rec[k] for k in info} == info
    assert rec["datadir"] == str(tmp_path.resolve())
    assert [p.name for p in tmp_path.iterdir()] == ["btcmicro-node.json"]  # no temp file left
    with pytest.raises(ValueError):
        write_node_record(tmp_path, {"url": "x"})
    path.write_text("{not json")
    with pytest.raises(ConfigError):
        read_node_record(tmp_path)


# ------------------------------------------------------------ records that cannot lie (issue 13)
def test_record_names_the_process_by_pid_and_start_time(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    from btcmicro.node.launcher import node_state, process_identity, record_alive

    info = {"url": "http://127.0.0.1:1", "cookie_file": "/x", "pid": os.getpid(), "engine": "embedded"}
    write_node_record(tmp_path, info)
    record = read_node_record(tmp_path)
    assert record is not None and record["pid_start"] == process_identity(os.getpid())["pid_start"]
    assert record_alive(record) and node_state(tmp_path)[1] == "running"
    # the same pid with another start time is another process (a pid reused after a crash)
    assert not record_alive({**record, "pid_start": record["pid_start"] - 1})
    assert not record_alive({**record, "boot_id": "another boot"})
    # a process that exited, and one that exited but is not reaped yet (a zombie), are not the node
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    ident = process_identity(child.pid)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{child.pid}/stat").read_text().split(") ")[1][0] != "Z":  # exited, not reaped
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not record_alive({**record, "pid": child.pid, **ident})
    child.wait()
    assert not record_alive({**record, "pid": child.pid, **ident})
    # a record of an older btcmicro (no start time) counts only when the command line names the node
    legacy = {k: v for k, v in record.items() if k not in ("pid_start", "boot_id")}
    assert not record_alive(legacy)  # pytest's command line does not name this datadir


def test_ports_default_remembered_given(tmp_path: Path) -> None:
    import socket

    from btcmicro.node.bitcoind import free_port
    from btcmicro.node.launcher import choose_ports, remember_ports

    default = free_port()
    assert choose_ports(tmp_path, default_rpcport=default) == (default, None, "Core's regtest default")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        port, _, why = choose_ports(tmp_path, default_rpcport=taken)  # the default is taken: any free port
        assert port != taken and why == f"{taken} is taken"
        remember_ports(tmp_path, taken, 23456)
        with pytest.raises(ConfigError, match=f"port {taken}, which this datadir's node used last, is taken"):
            choose_ports(tmp_path, default_rpcport=default)
        assert choose_ports(tmp_path, 0) == (0, 23456, "given")  # told otherwise
    assert choose_ports(tmp_path, default_rpcport=default) == (taken, 23456, "as last time")
    assert choose_ports(tmp_path, 5555, 6666) == (5555, 6666, "given")
