"""btcmicro.node.launcher: engine choice and node records (no node needed)."""
from __future__ import annotations

from pathlib import Path

import pytest

from btcmicro.core.errors import ConfigError
from btcmicro.node.launcher import read_node_record, resolve_engine, write_node_record


def test_resolve_engine_without_bitcoind(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("BITCOIND", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert resolve_engine("auto") == ("embedded", None)
    assert resolve_engine("embedded") == ("embedded", None)
    with pytest.raises(ConfigError, match="bitcoind not found: set BITCOIND or put it on PATH"):
        resolve_engine("bitcoind")
    with pytest.raises(ConfigError, match="unknown engine"):
        resolve_engine("btcd")


def test_resolve_engine_with_bitcoind(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    exe = tmp_path / "bitcoind"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("BITCOIND", str(exe))
    assert resolve_engine("auto") == ("bitcoind", str(exe.resolve()))
    assert resolve_engine("embedded") == ("embedded", None)


def test_node_record_roundtrip(tmp_path: Path):
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
