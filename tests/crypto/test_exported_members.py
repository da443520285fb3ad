"""The public surface of ``btcmicro.crypto`` is pinned: changing it is a deliberate edit of this list."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import btcmicro.crypto as crypto

EXPECTED = [
    "secp256k1", "commitment", "ecvrf", "chameleon", "assertions", "ring", "delay",
    "tagged_hash", "schnorr_sign_with_nonce", "schnorr_verify",
    "SizeCommitment", "chunk_bits", "commit_number",
    "ECVRFSuite", "SECP256K1_SHA256_TAI",
    "message_digest", "chameleon_hash", "find_collision", "extract_key",
    "Assertion", "AssertionPublicKey", "AssertionSecretKey", "TreeSecretKey", "TreePublicKey",
    "NonceSecretKey", "NoncePublicKey",
    "iterated_sha256", "draw_value",
]
MODULES = ["secp256k1", "commitment", "ecvrf", "chameleon", "assertions", "ring", "delay"]


def test_all_is_pinned() -> None:
    assert crypto.__all__ == EXPECTED
    for name in crypto.__all__:
        assert hasattr(crypto, name), name


def test_every_module_all_names_exist() -> None:
    for name in MODULES:
        module = importlib.import_module(f"btcmicro.crypto.{name}")
        for member in module.__all__:
            assert hasattr(module, member), (name, member)


def test_no_function_level_imports_of_btcmicro_and_no_own_exceptions() -> None:
    """The tree-wide rules, checked on this package alone: btcmicro modules imported at module
    level only, and no exception class outside the drawn tree in core/errors.py."""
    for path in Path(crypto.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            for node in ast.walk(func):
                if isinstance(node, ast.ImportFrom):
                    assert not (node.module or "").startswith("btcmicro"), (path.name, node.lineno)
                if isinstance(node, ast.Import):
                    assert not any(a.name.startswith("btcmicro") for a in node.names), (path.name, node.lineno)
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            bases = {getattr(b, "id", getattr(b, "attr", "")) for b in cls.bases}
            assert not bases & {"Exception", "ValueError", "BtcmicroError", "ProtocolError", "ConfigError"}, cls.name
