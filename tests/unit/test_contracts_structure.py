"""Where contracts sit: above tx, below the schemes; one DER checker; no import-time global state."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import btcmicro
from btcmicro.contracts import TemplateError
from btcmicro.core import der
from btcmicro.core.errors import BtcmicroError, ConfigError
from btcmicro.core.keys import SECP256K1_ORDER, PrivateKey, is_low_s
from btcmicro.script import standard
from btcmicro.script.standard import InvalidAddress, ScriptParseError, is_valid_der_signature

ROOT = Path(btcmicro.__file__).parent
SCHEMES = ("btcmicro.channels", "btcmicro.lottery")


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return {m for m in out if m.split(".")[0] == "btcmicro"}


def _package(name: str) -> list[Path]:
    base = ROOT.parent / name.replace(".", "/")
    return sorted(base.glob("*.py")) if base.is_dir() else [base.with_suffix(".py")]


@pytest.mark.parametrize("pkg", ["btcmicro.script", "btcmicro.tx"])
def test_script_and_tx_never_import_contracts(pkg: str) -> None:
    for path in _package(pkg):
        bad = {m for m in _imports(path) if m.startswith(("btcmicro.contracts", "btcmicro.registry", *SCHEMES))}
        assert not bad, (path.name, bad)


def test_contracts_import_no_scheme_and_schemes_import_contracts() -> None:
    for path in _package("btcmicro.contracts"):
        bad = {m for m in _imports(path) if m.startswith((*SCHEMES, "btcmicro.registry", "btcmicro.describe"))}
        assert not bad, (path.name, bad)
    for mod in ("btcmicro.channels.bitcoinj.templates", "btcmicro.lottery.micropay2.templates",
                "btcmicro.lottery.micropay3.templates"):
        assert "btcmicro.contracts" in _imports(_package(mod)[0]), mod
    for path in _package("btcmicro.describe"):
        bad = {m for m in _imports(path) if m.startswith(SCHEMES)}
        assert not bad, (path.name, bad)


def test_importing_script_and_contracts_changes_no_global_state() -> None:
    code = ("import bitcoin, bitcoin.core; import btcmicro.script, btcmicro.contracts, btcmicro.registry, "
            "btcmicro.describe, btcmicro.tx; print(bitcoin.params.NAME, type(bitcoin.core.coreparams).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["mainnet", "CoreMainParams"]  # python-bitcoinlib's defaults: nobody called SelectParams


def test_errors_descend_from_btcmicro_error_and_value_error() -> None:
    for cls in (ScriptParseError, InvalidAddress, TemplateError):
        assert issubclass(cls, BtcmicroError) and issubclass(cls, ValueError), cls
    assert issubclass(InvalidAddress, ConfigError) and issubclass(TemplateError, ConfigError)
    with pytest.raises(ScriptParseError):
        list(standard.iter_ops(b"\x4c"))


def _der(r: int, s: int) -> bytes:
    def enc(x: int) -> bytes:
        b = x.to_bytes(max(1, (x.bit_length() + 7) // 8), "big")
        return b"\x00" + b if b[0] & 0x80 else b
    rb, sb = enc(r), enc(s)
    return bytes([0x30, 4 + len(rb) + len(sb), 0x02, len(rb)]) + rb + bytes([0x02, len(sb)]) + sb


def test_one_der_checker_behind_every_name() -> None:
    assert is_low_s is der.is_low_s and SECP256K1_ORDER is der.SECP256K1_ORDER
    assert is_valid_der_signature is der.is_valid_signature_encoding
    sig = PrivateKey(bytes(31) + b"\x07").sign(bytes(32))
    r, s = der.der_parts(sig) or (0, 0)
    assert r and s and der.is_strict_der(sig) and der.is_low_s(sig) and is_valid_der_signature(sig + b"\x01")
    n, half = der.SECP256K1_ORDER, der.HALF_ORDER
    assert not der.is_low_s(_der(r, n - s)) and der.der_parts(_der(r, n - s)) == (r, n - s)
    assert not der.is_strict_der(_der(0, s)) and not der.is_strict_der(_der(n, s))
    assert der.is_strict_der(_der(n - 1, half)) and not der.is_strict_der(_der(1, half + 1))
    assert der.der_parts(b"\x30\x06\x02\x01\x00\x02\x01\x01") == (0, 1)  # zero is an encoding, not a valid r
    assert der.der_parts(b"\x30\x07\x02\x02\x00\x01\x02\x01\x01") is None  # needless leading zero
    assert der.der_parts(b"\x30\x06\x02\x01\x81\x02\x01\x01") is None  # negative
    assert not is_valid_der_signature(b"") and not is_valid_der_signature(sig)  # a DER needs its hashtype byte
