"""Examples run as users run them, and say what the node decided."""
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_v2_channel_refund_example():
    proc = subprocess.run([sys.executable, str(EXAMPLES / "escrow_v2_channel.py"), "--engine", "embedded"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1].endswith("refused (non-final)")
    assert "accepted" in lines[2]
