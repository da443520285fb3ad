"""SQLite adapters of the Das–Tripathi store protocols (the package's only ``sqlite3`` user).

The payer's channel secrets (escrow and refund keys) never enter SQLite: they live in a
:class:`~btcmicro.wallet.Keystore` (scrypt + AES-256-GCM when it has a passphrase), written before
the row that needs them, and are found again by the public keys in the channel's terms."""
from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from btcmicro.channels.dastripathi.contract import ChannelTerms
from btcmicro.channels.dastripathi.messages import Open
from btcmicro.channels.dastripathi.microcoins import MicrocoinSetup
from btcmicro.channels.dastripathi.states import CoinStatus, MerchantStatus, PayerStatus
from btcmicro.channels.dastripathi.stores import AssertionRecord, CoinChain, MerchantChannel, PayerChannel, SpentVoucher
from btcmicro.core.errors import ConfigError
from btcmicro.core.keys import PrivateKey
from btcmicro.store.migrations import Migration, Schema
from btcmicro.store.sqlite import SQLiteStore
from btcmicro.wallet.keystore import Keystore

__all__ = ["SQLiteMerchantStore", "SQLitePayerStore", "SQLiteMicrocoinStore"]

_TERMS = "open BLOB NOT NULL, merchant_key BLOB NOT NULL, merchant_spk BLOB NOT NULL"


def _terms_of(row: sqlite3.Row) -> ChannelTerms:
    return ChannelTerms.of(Open.decode(bytes(row["open"])), bytes(row["merchant_key"]), bytes(row["merchant_spk"]))


def _terms_cols(t: ChannelTerms) -> tuple[bytes, bytes, bytes]:
    return t.open_message().encode(), t.merchant_key, t.merchant_spk


_MERCHANT_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS channels (
    escrow_id TEXT PRIMARY KEY, {_TERMS}, status TEXT NOT NULL, paid INTEGER NOT NULL, k INTEGER NOT NULL,
    escrow_sig BLOB NOT NULL, voucher BLOB NOT NULL, close_txid TEXT);
CREATE TABLE IF NOT EXISTS spent_vouchers (
    voucher_id BLOB PRIMARY KEY, escrow_id TEXT NOT NULL, payment_id BLOB NOT NULL, receipt BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blacklist (escrow_key BLOB PRIMARY KEY, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assertions (
    escrow_id TEXT NOT NULL, k INTEGER NOT NULL, statement BLOB NOT NULL, token BLOB NOT NULL, pos INTEGER NOT NULL,
    PRIMARY KEY (escrow_id, k, statement));
"""


class SQLiteMerchantStore(SQLiteStore):
    """:class:`~.stores.MerchantStore` on SQLite."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        super().__init__(path, _MERCHANT_SCHEMA)

    @staticmethod
    def _channel(row: sqlite3.Row) -> MerchantChannel:
        return MerchantChannel(_terms_of(row), MerchantStatus(row["status"]), int(row["paid"]), int(row["k"]),
                               bytes(row["escrow_sig"]), bytes(row["voucher"]), row["close_txid"])

    def add_channel(self, channel: MerchantChannel) -> bool:
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM channels WHERE escrow_id=?", (channel.escrow_id,)).fetchone():
                return False
            db.execute("INSERT INTO channels VALUES (?,?,?,?,?,?,?,?,?,?)",
                       (channel.escrow_id, *_terms_cols(channel.terms), channel.status.value, channel.paid,
                        channel.k, channel.escrow_sig, channel.voucher, channel.close_txid))
        return True

    def channel(self, escrow_id: str) -> MerchantChannel | None:
        row = self.query_one("SELECT * FROM channels WHERE escrow_id=?", (escrow_id,))
        return None if row is None else self._channel(row)

    def channels(self, statuses: Sequence[MerchantStatus] = ()) -> list[MerchantChannel]:
        rows = self.query("SELECT * FROM channels ORDER BY escrow_id")
        out = [self._channel(r) for r in rows]
        return [c for c in out if not statuses or c.status in statuses]

    def _update(self, db: sqlite3.Connection, c: MerchantChannel) -> None:
        db.execute("UPDATE channels SET status=?, paid=?, k=?, escrow_sig=?, voucher=?, close_txid=? "
                   "WHERE escrow_id=?", (c.status.value, c.paid, c.k, c.escrow_sig, c.voucher, c.close_txid,
                                         c.escrow_id))

    def update_channel(self, channel: MerchantChannel) -> None:
        with self.transaction() as db:
            self._update(db, channel)

    def spent_voucher(self, voucher_id: bytes) -> SpentVoucher | None:
        row = self.query_one("SELECT * FROM spent_vouchers WHERE voucher_id=?", (voucher_id,))
        if row is None:
            return None
        return SpentVoucher(bytes(row["voucher_id"]), row["escrow_id"], bytes(row["payment_id"]), bytes(row["receipt"]))

    def record_payment(self, channel: MerchantChannel, spent: SpentVoucher,
                       assertion: AssertionRecord | None = None) -> bool:
        with self.transaction() as db:
            if assertion is not None:
                self.add_assertion(assertion)  # joins this transaction
            if db.execute("SELECT 1 FROM spent_vouchers WHERE voucher_id=?", (spent.voucher_id,)).fetchone():
                return False
            db.execute("INSERT INTO spent_vouchers VALUES (?,?,?,?)",
                       (spent.voucher_id, spent.escrow_id, spent.payment_id, spent.receipt))
            self._update(db, channel)
        return True

    def blacklist(self, escrow_key: bytes, reason: str) -> None:
        self.execute("INSERT OR IGNORE INTO blacklist VALUES (?,?)", (escrow_key, reason))

    def is_blacklisted(self, escrow_key: bytes) -> bool:
        return self.query_one("SELECT 1 FROM blacklist WHERE escrow_key=?", (escrow_key,)) is not None

    def add_assertion(self, record: AssertionRecord) -> None:
        self.execute("INSERT OR IGNORE INTO assertions VALUES (?,?,?,?,?)",
                     (record.escrow_id, record.k, record.statement, record.token, record.pos))

    def assertions(self, escrow_id: str) -> list[AssertionRecord]:
        rows = self.query("SELECT * FROM assertions WHERE escrow_id=? ORDER BY k, statement", (escrow_id,))
        return [AssertionRecord(r["escrow_id"], int(r["k"]), bytes(r["statement"]), bytes(r["token"]), int(r["pos"]))
                for r in rows]


_PAYER_SCHEMA = Schema("SQLitePayerStore", (
    Migration(1, "initial schema", f"""
CREATE TABLE IF NOT EXISTS channels (
    escrow_id TEXT PRIMARY KEY, {_TERMS}, escrow_secret BLOB NOT NULL, refund_secret BLOB NOT NULL,
    status TEXT NOT NULL, voucher BLOB NOT NULL, paid INTEGER NOT NULL, funding_hex TEXT NOT NULL, refund_txid TEXT);
CREATE TABLE IF NOT EXISTS contexts (
    escrow_id TEXT NOT NULL, k INTEGER NOT NULL, statement BLOB NOT NULL, PRIMARY KEY (escrow_id, k));
"""),
    Migration(2, "the nonce-committed assertion key's leaves (public), so a new process skips Gen", """
CREATE TABLE IF NOT EXISTS assertion_leaves (escrow_id TEXT PRIMARY KEY, leaves BLOB NOT NULL);
"""),
))


class SQLitePayerStore(SQLiteStore):
    """:class:`~.stores.PayerStore` on SQLite, the secrets in ``keystore`` (default: a keystore in
    memory for ``":memory:"``, else the folder ``<db>.keys``, encrypted under ``passphrase``)."""

    def __init__(self, path: str | Path = ":memory:", *, keystore: Keystore | None = None,
                 passphrase: str | None = None) -> None:
        super().__init__(path, _PAYER_SCHEMA)
        if keystore is None:
            keystore = Keystore(None if self.path == ":memory:" else f"{self.path}.keys", passphrase)
        self.keystore = keystore

    def _secret(self, pubkey: bytes) -> bytes:
        key = self.keystore.get(pubkey)
        if key is None:
            raise ConfigError(f"the keystore holds no key {pubkey.hex()} of this payer's channels")
        return key.to_bytes()

    def _channel(self, row: sqlite3.Row) -> PayerChannel:
        terms = _terms_of(row)
        return PayerChannel(terms, self._secret(terms.escrow_key), self._secret(terms.refund_key),
                            PayerStatus(row["status"]), bytes(row["voucher"]), int(row["paid"]), row["funding_hex"],
                            row["refund_txid"])

    def add_channel(self, channel: PayerChannel) -> None:
        for secret, what in ((channel.escrow_secret, "escrow"), (channel.refund_secret, "refund")):
            if self.keystore.get(PrivateKey(secret).pubkey) is None:
                self.keystore.add(PrivateKey(secret), f"dastripathi {what} {channel.escrow_id}")
        self.execute("INSERT INTO channels VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     (channel.escrow_id, *_terms_cols(channel.terms), b"", b"",
                      channel.status.value, channel.voucher, channel.paid, channel.funding_hex, channel.refund_txid))

    def channel(self, escrow_id: str) -> PayerChannel | None:
        row = self.query_one("SELECT * FROM channels WHERE escrow_id=?", (escrow_id,))
        return None if row is None else self._channel(row)

    def channels(self) -> list[PayerChannel]:
        return [self._channel(r) for r in self.query("SELECT * FROM channels ORDER BY escrow_id")]

    def update_channel(self, channel: PayerChannel) -> None:
        self.execute("UPDATE channels SET status=?, voucher=?, paid=?, funding_hex=?, refund_txid=? WHERE escrow_id=?",
                     (channel.status.value, channel.voucher, channel.paid, channel.funding_hex, channel.refund_txid,
                      channel.escrow_id))

    def assertion_leaves(self, escrow_id: str) -> bytes | None:
        row = self.query_one("SELECT leaves FROM assertion_leaves WHERE escrow_id=?", (escrow_id,))
        return None if row is None else bytes(row["leaves"])

    def set_assertion_leaves(self, escrow_id: str, leaves: bytes) -> None:
        self.execute("INSERT OR REPLACE INTO assertion_leaves VALUES (?,?)", (escrow_id, leaves))

    def used_context(self, escrow_id: str, k: int) -> bytes | None:
        row = self.query_one("SELECT statement FROM contexts WHERE escrow_id=? AND k=?", (escrow_id, k))
        return None if row is None else bytes(row["statement"])

    def use_context(self, escrow_id: str, k: int, statement: bytes) -> bool:
        with self.transaction() as db:
            row = db.execute("SELECT statement FROM contexts WHERE escrow_id=? AND k=?", (escrow_id, k)).fetchone()
            if row is not None:
                return bytes(row["statement"]) == statement
            db.execute("INSERT INTO contexts VALUES (?,?,?)", (escrow_id, k, statement))
        return True


_COIN_SCHEMA = Schema("SQLiteMicrocoinStore", (
    Migration(1, "initial schema", """
CREATE TABLE IF NOT EXISTS coin_issuers (escrow_id TEXT PRIMARY KEY, setup BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS coin_opened (
    root BLOB NOT NULL, idx INTEGER NOT NULL, coin BLOB NOT NULL, receiver BLOB NOT NULL, PRIMARY KEY (root, idx));
CREATE TABLE IF NOT EXISTS coin_chains (
    root BLOB PRIMARY KEY, escrow_id TEXT NOT NULL, setup BLOB NOT NULL, status TEXT NOT NULL, idx INTEGER NOT NULL,
    node BLOB NOT NULL, exposed_key BLOB);
CREATE INDEX IF NOT EXISTS coin_chains_escrow ON coin_chains (escrow_id);
CREATE TABLE IF NOT EXISTS coins (
    root BLOB NOT NULL, idx INTEGER NOT NULL, coin BLOB NOT NULL, PRIMARY KEY (root, idx));
"""),
    Migration(2, "the payer's own coin record per channel: the last coin sent, the sats paid for coins", """
CREATE TABLE IF NOT EXISTS coin_progress (escrow_id TEXT PRIMARY KEY, sent INTEGER NOT NULL, paid INTEGER NOT NULL);
"""),
    Migration(3, "the payer's coin payment awaiting its receipt, per channel and voucher k", """
CREATE TABLE IF NOT EXISTS coin_pending (
    escrow_id TEXT NOT NULL, k INTEGER NOT NULL, payment BLOB NOT NULL, owed INTEGER NOT NULL,
    PRIMARY KEY (escrow_id, k));
"""),
))


class SQLiteMicrocoinStore(SQLiteStore):
    """:class:`~.stores.MicrocoinStore` on SQLite (its own tables: it may share a party's file). The
    exposed key is a secret only of a cheating payer; it is kept so a restarted receiver can still sweep."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        super().__init__(path, _COIN_SCHEMA)

    def opened(self, root: bytes, index: int) -> tuple[bytes, bytes] | None:
        row = self.query_one("SELECT coin, receiver FROM coin_opened WHERE root=? AND idx=?", (root, index))
        return None if row is None else (bytes(row["coin"]), bytes(row["receiver"]))

    def add_issuer(self, escrow_id: str, setup: bytes) -> None:
        self.execute("INSERT OR IGNORE INTO coin_issuers VALUES (?,?)", (escrow_id, setup))

    def issuer_setup(self, escrow_id: str) -> bytes | None:
        row = self.query_one("SELECT setup FROM coin_issuers WHERE escrow_id=?", (escrow_id,))
        return None if row is None else bytes(row["setup"])

    @staticmethod
    def _progress(db: sqlite3.Connection, escrow_id: str) -> tuple[int, int]:
        """The channel's record; without a row (coins sent before migration 2) its highest opened coin, 0 paid."""
        row = db.execute("SELECT sent, paid FROM coin_progress WHERE escrow_id=?", (escrow_id,)).fetchone()
        if row is not None:
            return int(row["sent"]), int(row["paid"])
        setup = db.execute("SELECT setup FROM coin_issuers WHERE escrow_id=?", (escrow_id,)).fetchone()
        if setup is None:
            return 0, 0
        root = MicrocoinSetup.decode(bytes(setup["setup"])).params.root
        top = db.execute("SELECT MAX(idx) AS top FROM coin_opened WHERE root=?", (root,)).fetchone()
        return int(top["top"] or 0), 0

    def issuer_progress(self, escrow_id: str) -> tuple[int, int]:
        with self.transaction() as db:
            return self._progress(db, escrow_id)

    def _raise(self, db: sqlite3.Connection, escrow_id: str, sent: int = 0, paid: int = 0) -> None:
        old_sent, old_paid = self._progress(db, escrow_id)
        db.execute("INSERT OR REPLACE INTO coin_progress VALUES (?,?,?)",
                   (escrow_id, max(sent, old_sent), max(paid, old_paid)))

    def raise_issuer_progress(self, escrow_id: str, sent: int = 0, paid: int = 0) -> None:
        with self.transaction() as db:
            self._raise(db, escrow_id, sent, paid)

    def coin_pending(self, escrow_id: str, k: int) -> tuple[bytes, int] | None:
        row = self.query_one("SELECT payment, owed FROM coin_pending WHERE escrow_id=? AND k=?", (escrow_id, k))
        return None if row is None else (bytes(row["payment"]), int(row["owed"]))

    def add_coin_pending(self, escrow_id: str, k: int, payment: bytes, owed: int) -> tuple[bytes, int]:
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO coin_pending VALUES (?,?,?,?)", (escrow_id, k, payment, owed))
            row = db.execute("SELECT payment, owed FROM coin_pending WHERE escrow_id=? AND k=?",
                             (escrow_id, k)).fetchone()
        return bytes(row["payment"]), int(row["owed"])

    def end_coin_pending(self, escrow_id: str, k: int, payment: bytes) -> bool:
        with self.transaction() as db:
            row = db.execute("SELECT payment, owed FROM coin_pending WHERE escrow_id=? AND k=?",
                             (escrow_id, k)).fetchone()
            if row is None:
                return False
            db.execute("DELETE FROM coin_pending WHERE escrow_id=? AND k=?", (escrow_id, k))
            if bytes(row["payment"]) != payment:
                return False
            self._raise(db, escrow_id, paid=int(row["owed"]))
        return True

    def add_opened(self, root: bytes, index: int, coin: bytes, receiver: bytes) -> tuple[bytes, bytes]:
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO coin_opened VALUES (?,?,?,?)", (root, index, coin, receiver))
            row = db.execute("SELECT coin, receiver FROM coin_opened WHERE root=? AND idx=?", (root, index)).fetchone()
        return bytes(row["coin"]), bytes(row["receiver"])

    @staticmethod
    def _chain(row: sqlite3.Row) -> CoinChain:
        exposed = None if row["exposed_key"] is None else int.from_bytes(row["exposed_key"], "big")
        return CoinChain(bytes(row["root"]), row["escrow_id"], bytes(row["setup"]), CoinStatus(row["status"]),
                         int(row["idx"]), bytes(row["node"]), exposed)

    @staticmethod
    def _key(chain: CoinChain) -> bytes | None:
        return None if chain.exposed_key is None else chain.exposed_key.to_bytes(32, "big")

    def add_chain(self, chain: CoinChain) -> bool:
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM coin_chains WHERE root=?", (chain.root,)).fetchone():
                return False
            db.execute("INSERT INTO coin_chains VALUES (?,?,?,?,?,?,?)",
                       (chain.root, chain.escrow_id, chain.setup, chain.status.value, chain.index, chain.node,
                        self._key(chain)))
        return True

    def chain(self, root: bytes) -> CoinChain | None:
        row = self.query_one("SELECT * FROM coin_chains WHERE root=?", (root,))
        return None if row is None else self._chain(row)

    def chain_of(self, escrow_id: str) -> CoinChain | None:
        row = self.query_one("SELECT * FROM coin_chains WHERE escrow_id=? ORDER BY root LIMIT 1", (escrow_id,))
        return None if row is None else self._chain(row)

    def coins(self, root: bytes) -> dict[int, bytes]:
        rows = self.query("SELECT idx, coin FROM coins WHERE root=?", (root,))
        return {int(r["idx"]): bytes(r["coin"]) for r in rows}

    def _update(self, db: sqlite3.Connection, c: CoinChain) -> None:
        db.execute("UPDATE coin_chains SET status=?, idx=?, node=?, exposed_key=? WHERE root=?",
                   (c.status.value, c.index, c.node, self._key(c), c.root))

    def accept_coin(self, chain: CoinChain, coin: bytes) -> bool:
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM coins WHERE root=? AND idx=?", (chain.root, chain.index)).fetchone():
                return False
            db.execute("INSERT INTO coins VALUES (?,?,?)", (chain.root, chain.index, coin))
            self._update(db, chain)
        return True

    def update_chain(self, chain: CoinChain) -> None:
        with self.transaction() as db:
            self._update(db, chain)
