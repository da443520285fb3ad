"""A downstream project gets the regtest fixtures from the installed package alone.

The project is a temporary directory holding one test file and nothing else (no conftest, no
configuration); pytest runs in it as a child process of this interpreter, as the project's own CI
would after ``pip install btcmicro``. The fixtures come from the ``pytest11`` entry point.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DOWNSTREAM_TEST = '''
import json
import os
from pathlib import Path

import pytest

REPORT = Path(os.environ["DOWNSTREAM_REPORT"])


def test_node_and_rpc(regtest_node, rpc):
    info = rpc.getblockchaininfo()
    assert info["chain"] == "regtest"
    before = rpc.getblockcount()
    rpc.generatetoaddress(2, "bcrt1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq3xueyj")
    assert rpc.getblockcount() == before + 2
    REPORT.write_text(json.dumps({"engine": regtest_node.engine, "datadir": str(regtest_node.datadir)}))


def test_the_same_node_all_session(regtest_node, rpc):
    assert rpc is regtest_node.rpc and rpc.getblockcount() >= 2


def test_funded_wallet(funded_wallet, rpc):
    assert funded_wallet.balance() == 4 * 50_000_000
    txid, vout = funded_wallet.fund("bcrt1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq3xueyj", 10_000)
    assert txid in rpc.getrawmempool()


@pytest.mark.both_engines
def test_marker(regtest_engine):
    assert regtest_engine in ("embedded", "bitcoind")
'''


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
    env["DOWNSTREAM_REPORT"] = str(project / "report.json")
    return subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", *args],
                          cwd=project, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "downstream"
    project.mkdir()
    (project / "test_downstream.py").write_text(textwrap.dedent(DOWNSTREAM_TEST))
    return project


def test_a_project_without_conftest_gets_a_regtest_node(project: Path) -> None:
    proc = run_pytest(project, "--strict-markers")  # the plugin registers its marker
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    engine = json.loads((project / "report.json").read_text())["engine"]
    # every test on a node names its engine, as the both_engines marker's runs do
    for name in ("test_node_and_rpc", "test_the_same_node_all_session", "test_funded_wallet"):
        assert f"test_downstream.py::{name}[{engine}] PASSED" in out, out
    assert "test_marker[embedded] PASSED" in out, out
    assert "test_marker[bitcoind] PASSED" in out or "test_marker[bitcoind] SKIPPED" in out, out
    # the node was stopped, and its temporary datadir removed, at the end of the session
    report = json.loads((project / "report.json").read_text())
    assert engine in ("embedded", "bitcoind") and not Path(report["datadir"]).exists()


def test_the_fixtures_come_from_the_plugin(project: Path) -> None:
    proc = run_pytest(project, "-p", "no:btcmicro", "-k", "node_and_rpc")
    assert proc.returncode != 0
    assert "fixture 'regtest_node' not found" in proc.stdout
