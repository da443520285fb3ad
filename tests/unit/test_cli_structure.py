"""The shape of ``btcmicro.cli``: one module per group registered explicitly by the package, the shared
options and the passphrase policy declared once in ``_common``, a fast start, and every way to run it."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

import btcmicro.cli
from btcmicro.cli import _common
from btcmicro.cli._common import CHANNEL_PASSPHRASE_ENV, PASSPHRASE_ENV, keystore_passphrase
from btcmicro.core.errors import ConfigError

CLI_DIR = Path(btcmicro.cli.__file__).parent
COMMAND_MODULES = sorted(p for p in CLI_DIR.glob("*.py") if p.name not in ("__init__.py", "__main__.py", "_common.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _strings(path: Path) -> list[str]:
    return [n.value for n in ast.walk(_tree(path)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def test_one_module_per_group():
    # every command module is imported by the package's __init__, which registers its commands
    registered = {a.name for n in ast.walk(_tree(CLI_DIR / "__init__.py"))
                  if isinstance(n, ast.ImportFrom) and n.module == "btcmicro.cli" for a in n.names}
    assert [p.stem for p in COMMAND_MODULES] == sorted(registered - {"_common"})
    assert {"analyze", "bench", "channel", "demo", "describe", "micropay2", "node", "wallet"} <= registered


def test_command_modules_import_common_never_the_package():
    for path in COMMAND_MODULES + [CLI_DIR / "_common.py"]:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and node.module == "btcmicro.cli":
                pytest.fail(f"{path.name}:{node.lineno} imports from btcmicro.cli (its __init__)")
            if isinstance(node, ast.ImportFrom) and node.level:
                pytest.fail(f"{path.name}:{node.lineno} uses a relative import")
            if isinstance(node, ast.Import) and any(a.name == "btcmicro.cli" for a in node.names):
                pytest.fail(f"{path.name}:{node.lineno} imports btcmicro.cli")


def test_every_command_is_registered_by_the_explicit_list():
    main = btcmicro.cli.main
    assert tuple(main.commands.values()) == btcmicro.cli.COMMANDS
    # every top-level command object of a command module reaches the root
    reachable: set[int] = set()

    def walk(cmd: click.Command) -> None:
        reachable.add(id(cmd))
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                walk(sub)

    walk(main)
    for path in COMMAND_MODULES:
        module = sys.modules[f"btcmicro.cli.{path.stem}"]
        for name, value in vars(module).items():
            if isinstance(value, click.Command):
                assert id(value) in reachable, f"btcmicro.cli.{path.stem}.{name} is not registered"


def test_shared_options_and_passphrase_variables_are_declared_once():
    common = _strings(CLI_DIR / "_common.py")
    others = [s for p in COMMAND_MODULES + [CLI_DIR / "__init__.py"] for s in _strings(p)]
    for option in ("--json", "--channel", "--engine", "--bitcoind", "--host"):
        assert common.count(option) == 1, option
        assert option not in others, f"{option} declared outside _common"
    for env in (PASSPHRASE_ENV, CHANNEL_PASSPHRASE_ENV):
        assert env not in others, f"{env} read outside _common"


def test_passphrase_policy(monkeypatch):
    prompts: list[str] = []

    def fake_prompt(text: str, hide_input: bool = False) -> str:
        assert hide_input
        prompts.append(text)
        return "typed"

    monkeypatch.setattr(_common.click, "prompt", fake_prompt)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)  # someone at a terminal (see test_passphrase.py for none)
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv(CHANNEL_PASSPHRASE_ENV, raising=False)

    def channel() -> str:
        return keystore_passphrase(scope_env=CHANNEL_PASSPHRASE_ENV, prompt="channel key passphrase")

    # Without a passphrase: the wallet and MICROPAY2 keystores stay unencrypted, the channel stores ask.
    assert keystore_passphrase() is None
    assert channel() == "typed" and prompts == ["channel key passphrase"]
    # BTCMICRO_PASSPHRASE serves every keystore.
    monkeypatch.setenv(PASSPHRASE_ENV, "general")
    assert keystore_passphrase() == "general" and channel() == "general"
    # The deprecated alias: the same value is fine; a different one is refused, not guessed between.
    monkeypatch.setenv(CHANNEL_PASSPHRASE_ENV, "general")
    assert channel() == "general"
    monkeypatch.setenv(CHANNEL_PASSPHRASE_ENV, "channels")
    with pytest.raises(ConfigError, match="differ"):
        channel()
    assert keystore_passphrase() == "general"  # the wallet never reads the alias
    # Alone, the alias still serves the channel stores.
    monkeypatch.delenv(PASSPHRASE_ENV)
    assert channel() == "channels" and keystore_passphrase() is None
    # An empty variable counts as unset, everywhere.
    monkeypatch.setenv(CHANNEL_PASSPHRASE_ENV, "")
    monkeypatch.setenv(PASSPHRASE_ENV, "")
    assert keystore_passphrase() is None and channel() == "typed" and len(prompts) == 2


def test_importing_the_cli_loads_no_node_service_or_scheme_code():
    code = ("import sys, btcmicro.cli; print(' '.join(m for m in sys.modules if m.split('.')[0] in "
            "('btcmicro', 'httpx', 'fastapi', 'uvicorn', 'sqlite3', 'cryptography')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    heavy = [m for m in loaded if m.split(".")[0] in ("httpx", "fastapi", "uvicorn", "sqlite3", "cryptography")
             or m.startswith(("btcmicro.node", "btcmicro.service", "btcmicro.channels", "btcmicro.lottery",
                              "btcmicro.bench", "btcmicro.tours", "btcmicro.wallet", "btcmicro.store"))]
    assert not heavy, heavy


@pytest.mark.parametrize("argv", [["-m", "btcmicro"], ["-m", "btcmicro.cli"], ["console"]], ids=lambda a: a[-1])
def test_every_way_to_run_it(argv):
    if argv == ["console"]:
        script = Path(sys.executable).parent / "btcmicro"
        if not script.exists():
            pytest.skip("no btcmicro console script next to this interpreter")
        cmd = [str(script)]
    else:
        cmd = [sys.executable, *argv]
    proc = subprocess.run([*cmd, "--help"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    for group in ("regtest", "bench", "channel", "micropay2", "vts", "merchant", "script", "tx", "analyze", "demo"):
        assert f"  {group} " in proc.stdout
