"""The key server: the password stays with the client, the server holds a blob it cannot open,
wrong passwords and unknown users get the same clear 401, brute force is throttled (429), bad input
is a 4xx JSON error."""
from __future__ import annotations

import json

import httpx
import pytest

from btcmicro.channels.bitcoinj.metered import JSONAccountStore, KeyServer, derive_keys, open_key
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.service.keyserver import KeyServerClient, create_keyserver_app
from btcmicro.service.runner import ServiceThread


@pytest.fixture
def keyserver(tmp_path):
    with ServiceThread(create_keyserver_app(KeyServer(JSONAccountStore(tmp_path / "accounts.json"),
                                                      max_failures=3, window=60))) as svc, \
            KeyServerClient(svc.url) as client:
        yield svc, client


def test_login_returns_a_blob_only_the_password_opens(keyserver, tmp_path):
    svc, client = keyserver
    key = PrivateKey.generate()
    account = client.enroll("alice", "hunter2 but longer", key)
    assert client.fetch_key("alice", "hunter2 but longer") == key
    stored = (tmp_path / "accounts.json").read_text()
    assert key.to_bytes().hex() not in stored and "hunter2" not in stored
    split = derive_keys("hunter2 but longer", bytes.fromhex(account.salt), account.scrypt_n)
    assert split.encryption != split.login and split.encryption.hex() not in stored
    assert split.login.hex() not in stored  # only a hash of the login key is kept
    with pytest.raises(ProtocolError) as e:  # what the server sees at login does not open the blob
        open_key("alice", split.login, account.nonce, account.ciphertext)
    assert e.value.code == "BAD_BLOB"
    with pytest.raises(ProtocolError) as e:
        client.enroll("alice", "other", PrivateKey.generate())
    assert e.value.code == "USER_EXISTS" and e.value.status == 409
    reloaded = JSONAccountStore(tmp_path / "accounts.json")  # acknowledged means stored
    assert reloaded.usernames() == ["alice"]


def test_wrong_password_unknown_user_and_brute_force(keyserver):
    svc, client = keyserver
    client.enroll("bob", "right password", PrivateKey.generate())
    errors = []
    for username, password in (("bob", "wrong"), ("nobody", "wrong")):
        with pytest.raises(ProtocolError) as e:
            client.fetch_key(username, password)
        errors.append((e.value.code, e.value.status, e.value.detail))
    assert errors[0] == errors[1] == ("BAD_LOGIN", 401, "unknown user or wrong password")  # who exists is not told
    for attempt in ("wrong again", "and again"):
        with pytest.raises(ProtocolError):
            client.fetch_key("bob", attempt)
    with httpx.Client(base_url=svc.url, trust_env=False) as http:  # 3 failures for bob: throttled
        salt = http.get("/keys/salt", params={"username": "bob"}).json()
        proof = derive_keys("right password", bytes.fromhex(salt["salt"]), salt["scrypt_n"]).login.hex()
        r = http.post("/keys/login", json={"username": "bob", "login_key": proof})
        assert r.status_code == 429 and r.json()["error"]["code"] == "TOO_MANY_ATTEMPTS"
        assert int(r.headers["Retry-After"]) >= 1
        for bad in (b"{", json.dumps({"username": "bob"}).encode(), json.dumps({"username": "b b", "login_key": "00"})
                    .encode()):
            r = http.post("/keys/login", content=bad, headers={"Content-Type": "application/json"})
            assert r.status_code == 400 and "error" in r.json()
        r = http.get("/keys/salt", params={"username": "../etc"})
        assert r.status_code == 400
        r = http.post("/keys/accounts", json={"username": "eve", "salt": "zz"})
        assert r.status_code == 400
