"""A detached embedded engine starts from any directory (a folder named ``btcmicro`` there cannot shadow the
installed package) and keeps its cookie and log private (0600 from the first byte)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration]


def _btcmicro(cwd: Path, datadir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BTCMICRO_")}
    script = Path(sys.executable).with_name("btcmicro")  # the console script, as a user runs it
    return subprocess.run([str(script), "--datadir", str(datadir), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python's -P flag arrived in 3.11")
def test_engine_starts_beside_a_btcmicro_folder_with_a_private_cookie_and_log(tmp_path: Path) -> None:
    (tmp_path / "btcmicro").mkdir()  # what a user's project or datadir might hold
    (tmp_path / "btcmicro" / "__init__.py").write_text("raise ImportError('the shadow, not the package')\n")
    datadir = tmp_path / "dd"
    started = _btcmicro(tmp_path, datadir, "regtest", "start", "--detach", "--engine", "embedded", "--rpcport", "0")
    try:
        assert started.returncode == 0, started.stderr
        for path in (datadir / "node" / "regtest" / ".cookie", datadir / "node" / "engine.log"):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        stopped = _btcmicro(tmp_path, datadir, "regtest", "stop")
    assert stopped.returncode == 0, stopped.stderr
