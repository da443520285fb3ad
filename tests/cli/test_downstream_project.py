"""examples/downstream_project, run as its own CI would: copied to a temporary directory (so nothing of
this repository's configuration or conftest reaches it) and tested by pytest in a child process, with the
fixtures from the installed package's ``pytest11`` entry point."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "downstream_project"


def test_the_example_project_passes_on_its_own(tmp_path):
    project = tmp_path / "paywall"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    assert not list(project.rglob("conftest.py"))  # the plugin alone provides the fixtures
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    for name in ("test_a_confirmed_payment_unlocks_once", "test_an_underpayment_does_not"):
        assert f"tests/test_paywall.py::{name}" in out and "PASSED" in out, out
    assert "test_on_each_engine[embedded] PASSED" in out, out
