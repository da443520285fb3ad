"""A payer in a new process (a new ``Payer`` on the same store) rebuilds its nonce-committed assertion key
from the leaves stored at fund, not by Gen again; damaged leaves are not trusted (Gen runs, the leaves are
stored again); an old payer file (schema v1) gains the table."""
from __future__ import annotations

import sqlite3

from btcmicro.channels.dastripathi import Payer, SQLitePayerStore
from btcmicro.crypto.assertions import NonceSecretKey
from btcmicro.store.migrations import VERSION_TABLE
from btcmicro.testing import FakeChain
from btcmicro.wallet.keystore import Keystore
from tests.channel.fakes import FakeWallet

from .helpers import DEPOSIT, EXPIRY
from .pos import shop


def test_a_new_payer_rebuilds_the_nonce_key_from_stored_leaves(tmp_path, monkeypatch):
    chain = FakeChain()
    wallet = FakeWallet(chain)
    s = shop(chain, wallet, n=1, deposit=DEPOSIT, penalty=1_000, expiry=EXPIRY, scheme="nonce", context_bits=6,
             payout_spk=wallet.spk, confirm=lambda: chain.mine(1))
    path, keys = tmp_path / "payer.db", Keystore(None)
    store = SQLitePayerStore(path, keystore=keys)
    for ch in s.payer.store.channels():  # the shop's payer, moved to a file
        store.add_channel(ch)
        store.set_assertion_leaves(ch.escrow_id, s.payer.store.assertion_leaves(ch.escrow_id) or b"")
    assert len(store.assertion_leaves(s.escrow_id) or b"") == 32 << 6
    gens: list[int] = []  # Gen (2^bits base multiplications) runs in __init__; from_leaves skips it
    real_init = NonceSecretKey.__init__
    monkeypatch.setattr(NonceSecretKey, "__init__", lambda key, *a, **k: (gens.append(1), real_init(key, *a, **k))[1])
    again = Payer(chain, wallet, SQLitePayerStore(path, keystore=keys))
    pos = s.pos[0]
    m = again.pay(s.escrow_id, 1_000, pos.nonce())
    assert gens == [] and isinstance(again._assertion_keys[s.escrow_id], NonceSecretKey)
    again.on_receipt(s.escrow_id, m, pos.pay(m.encode()).encode())  # the point of sale verified the assertion
    store.set_assertion_leaves(s.escrow_id, b"\x00" * (32 << 6))  # damaged: the root does not match
    third = Payer(chain, wallet, SQLitePayerStore(path, keystore=keys))
    m = third.pay(s.escrow_id, 1_000, pos.nonce())
    assert gens == [1]  # the damaged leaves were not trusted: Gen ran again
    third.on_receipt(s.escrow_id, m, pos.pay(m.encode()).encode())
    assert store.assertion_leaves(s.escrow_id) == s.payer.store.assertion_leaves(s.escrow_id)


def test_a_version_one_payer_file_gains_the_leaves_table(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(f"CREATE TABLE {VERSION_TABLE} (component TEXT PRIMARY KEY, version INTEGER NOT NULL);"
                     f"INSERT INTO {VERSION_TABLE} VALUES ('SQLitePayerStore', 1);")
    db.close()
    store = SQLitePayerStore(path, keystore=Keystore(None))
    assert store.schema_versions()["SQLitePayerStore"] == 2 and store.assertion_leaves("x:0") is None
    tables = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "assertion_leaves" in tables and "channels" not in tables  # only migration 2 ran on the v1 file
