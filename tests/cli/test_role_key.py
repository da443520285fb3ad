"""A role's key is created once even when several processes (replicas of a server on one datadir) start
at the same moment: each finds the key another created, none makes its own."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = """
import sys
from pathlib import Path
from btcmicro.cli._common import role_key
sys.stdin.readline()  # start together
print(role_key(Path(sys.argv[1]), "vts").pubkey.hex())
"""


def test_replicas_starting_together_share_one_role_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("BTCMICRO_PASSPHRASE", raising=False)
    procs = [subprocess.Popen([sys.executable, "-c", PROGRAM, str(tmp_path / "keys")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(6)]
    outs = [p.communicate("go\n", timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(outs)) == 1 and len(outs[0]) == 66, outs
