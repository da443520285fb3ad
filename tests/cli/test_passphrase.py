"""One passphrase policy for every keystore (issue 19, item 1): a keystore made in clear before
``BTCMICRO_PASSPHRASE`` was exported still opens (with a note), ``wallet encrypt`` encrypts it in place,
and afterwards it opens only with the passphrase. No node needed."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from btcmicro.cli import _common, main
from btcmicro.cli._common import CHANNEL_PASSPHRASE_ENV, PASSPHRASE_ENV, open_keystore
from btcmicro.core.errors import ConfigError
from btcmicro.wallet.keystore import Keystore, keystore_state


@pytest.fixture(autouse=True)
def _no_passphrase(monkeypatch):
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    monkeypatch.delenv(CHANNEL_PASSPHRASE_ENV, raising=False)


def cli(datadir, *args, env=None):
    result = CliRunner().invoke(main, ["--datadir", str(datadir), *args], env=env, catch_exceptions=False)
    return result


def test_keystore_encrypt_in_place(tmp_path):
    clear = Keystore(tmp_path)
    keys = [clear.new_key("a").to_bytes(), clear.new_key("b").to_bytes()]
    assert keystore_state(tmp_path) == "clear"
    clear.encrypt("pw")
    assert keystore_state(tmp_path) == "encrypted"
    text = (tmp_path / "keystore.json").read_text()
    assert all(k.hex() not in text for k in keys)
    reopened = Keystore(tmp_path, "pw")
    assert [k.to_bytes() for k in reopened] == keys and reopened.label(reopened.keys()[1].pubkey) == "b"
    with pytest.raises(ConfigError, match="wrong passphrase"):
        Keystore(tmp_path, "nope")
    with pytest.raises(ConfigError, match="already encrypted"):
        reopened.encrypt("pw2")
    with pytest.raises(ConfigError, match="empty"):
        Keystore(tmp_path / "other").encrypt("")


def test_clear_keystore_opens_after_the_passphrase_is_exported(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(_common, "_stderr_is_terminal", lambda: True)
    monkeypatch.setattr(_common, "_noticed", set())
    first = open_keystore(tmp_path / "wallet")  # before the export: made in clear, said so
    key = first.new_key("default")
    assert "unencrypted" in capsys.readouterr().err
    monkeypatch.setenv(PASSPHRASE_ENV, "later")
    again = open_keystore(tmp_path / "wallet")  # the failure: "not encrypted but a passphrase was given"
    assert again.keys()[0].pubkey == key.pubkey and not again.encrypted
    assert "wallet encrypt" in capsys.readouterr().err


def test_wallet_encrypt_command(tmp_path, monkeypatch):
    datadir = tmp_path / "dd"
    open_keystore(datadir / "wallet").new_key("default")
    open_keystore(datadir / "micropay2" / "keys").new_key("vts")
    open_keystore(datadir / "another-scheme" / "keys").new_key("k")  # found wherever a scheme keeps it
    (datadir / "node" / "regtest").mkdir(parents=True)
    (datadir / "node" / "regtest" / "keystore.json").write_text("{}")  # never looked at: the node's chain
    # without a passphrase there is nothing to encrypt with: one line saying which variable to set
    with pytest.raises(ConfigError, match=f"set {PASSPHRASE_ENV}"):
        cli(datadir, "wallet", "encrypt")

    monkeypatch.setenv(PASSPHRASE_ENV, "pw")
    done = cli(datadir, "wallet", "encrypt", "--json")
    assert done.exit_code == 0, done.output
    assert [(d["was"], d["now"]) for d in json.loads(done.output)] == [("clear", "encrypted")] * 3
    assert keystore_state(datadir / "wallet") == keystore_state(datadir / "micropay2" / "keys") == "encrypted"
    # again: checked, not re-encrypted
    again = cli(datadir, "wallet", "encrypt", "--json")
    assert [d["was"] for d in json.loads(again.output)] == ["encrypted"] * 3
    # the address needs no node and now needs the passphrase
    address = cli(datadir, "wallet", "address").output.strip()
    assert address.startswith("bcrt1q")
    monkeypatch.delenv(PASSPHRASE_ENV)
    with pytest.raises(ConfigError, match=f"encrypted: set {PASSPHRASE_ENV}"):
        cli(datadir, "wallet", "address")
    monkeypatch.setenv(PASSPHRASE_ENV, "wrong")
    with pytest.raises(ConfigError, match="wrong passphrase"):
        cli(datadir, "wallet", "encrypt")


def test_always_encrypted_keys_with_no_terminal_say_which_variable_to_set(monkeypatch):
    """The channel stores always encrypt their keys; with no variable set and nobody at a terminal (a script,
    a pipe, a service) the command fails with one line naming the variable instead of waiting on a prompt."""
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(ConfigError, match=PASSPHRASE_ENV):
        _common.keystore_passphrase(scope_env=CHANNEL_PASSPHRASE_ENV, prompt="channel key passphrase")
    monkeypatch.setenv(PASSPHRASE_ENV, "pw")
    assert _common.keystore_passphrase(scope_env=CHANNEL_PASSPHRASE_ENV, prompt="channel key passphrase") == "pw"


def test_vuf_pay_before_any_escrow_says_what_to_run(tmp_path):
    result = CliRunner().invoke(main, ["--datadir", str(tmp_path), "vuf", "pay", "http://127.0.0.1:9"])
    assert result.exit_code == 1 and isinstance(result.exception, ConfigError)
    assert "btcmicro vuf escrow" in str(result.exception)
