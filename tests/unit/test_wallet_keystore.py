"""Keystore: encryption at rest, passphrase checks, atomic persistence (no node)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from btcmicro.core.errors import ConfigError
from btcmicro.wallet import Keystore


def test_clear_keystore_roundtrip(tmp_path: Path):
    ks = Keystore(tmp_path)
    a, b = ks.new_key("a"), ks.new_key("b")
    again = Keystore(tmp_path)
    assert again.keys() == [a, b] and again.label(b.pubkey) == "b"
    assert not again.encrypted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keystore.json"]
    assert (tmp_path / "keystore.json").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError, match="not encrypted"):
        Keystore(tmp_path, "pw")


def test_encrypted_keystore(tmp_path: Path):
    ks = Keystore(tmp_path, "correct horse")
    key = ks.new_key()
    text = (tmp_path / "keystore.json").read_text()
    assert key.to_bytes().hex() not in text and key.to_wif() not in text
    assert Keystore(tmp_path, "correct horse").keys() == [key]
    with pytest.raises(ConfigError, match="wrong passphrase"):
        Keystore(tmp_path, "battery staple")
    with pytest.raises(ConfigError, match="passphrase is needed"):
        Keystore(tmp_path)


def test_tampered_entry_is_refused(tmp_path: Path):
    ks = Keystore(tmp_path, "pw")
    ks.new_key()
    other = ks.new_key()
    data = json.loads((tmp_path / "keystore.json").read_text())
    # move the second secret under the first public key: AES-GCM's associated data catches it
    data["keys"][0]["nonce"], data["keys"][0]["ct"] = data["keys"][1]["nonce"], data["keys"][1]["ct"]
    (tmp_path / "keystore.json").write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="authentication"):
        Keystore(tmp_path, "pw")
    assert other  # the original key objects are unaffected


def test_memory_keystore_and_duplicates():
    ks = Keystore()
    k = ks.new_key()
    assert ks.add(k) is k and len(ks) == 1 and ks.path is None
