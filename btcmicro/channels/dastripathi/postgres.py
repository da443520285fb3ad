"""The Das–Tripathi merchant's store in PostgreSQL: several merchant processes (or hosts) share one.

:class:`PostgresMerchantStore` is :class:`~btcmicro.channels.dastripathi.stores.MerchantStore` on
:class:`~btcmicro.store.postgres.PostgresStore`. A voucher is spent once across processes: the spent
voucher's row is inserted with ``INSERT … ON CONFLICT DO NOTHING`` in the payment's transaction (of two
processes handed the same voucher, the second waits for the first's commit and is refused), and the
channel's row is updated in that same transaction, durably, before the receipt leaves. (The payer's
store holds channel secrets and stays in SQLite beside its keystore.)

:data:`MERCHANT_STORE` is the :class:`~btcmicro.store.url.StoreKind` ``dastripathi serve --store`` opens.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from btcmicro.channels.dastripathi.contract import ChannelTerms
from btcmicro.channels.dastripathi.messages import Open
from btcmicro.channels.dastripathi.sqlite import SQLiteMerchantStore
from btcmicro.channels.dastripathi.states import MerchantStatus
from btcmicro.channels.dastripathi.stores import AssertionRecord, MerchantChannel, MerchantStore, SpentVoucher
from btcmicro.store.migrations import Migration, Schema
from btcmicro.store.postgres import PostgresStore, Row
from btcmicro.store.url import StoreKind

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresMerchantStore", "MERCHANT_STORE", "MERCHANT_SCHEMA"]

MERCHANT_SCHEMA = Schema("dastripathi_merchant", (
    Migration(1, "channels, spent vouchers, blacklist, assertions", """
CREATE TABLE IF NOT EXISTS channels (
    escrow_id TEXT PRIMARY KEY, open BYTEA NOT NULL, merchant_key BYTEA NOT NULL, merchant_spk BYTEA NOT NULL,
    status TEXT NOT NULL, paid BIGINT NOT NULL, k BIGINT NOT NULL, escrow_sig BYTEA NOT NULL, voucher BYTEA NOT NULL,
    close_txid TEXT);
CREATE TABLE IF NOT EXISTS spent_vouchers (
    voucher_id BYTEA PRIMARY KEY, escrow_id TEXT NOT NULL, payment_id BYTEA NOT NULL, receipt BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS blacklist (escrow_key BYTEA PRIMARY KEY, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assertions (
    escrow_id TEXT NOT NULL, k BIGINT NOT NULL, statement BYTEA NOT NULL, token BYTEA NOT NULL, pos BIGINT NOT NULL,
    PRIMARY KEY (escrow_id, k, statement));
"""),
))


class PostgresMerchantStore(PostgresStore):
    """:class:`~btcmicro.channels.dastripathi.stores.MerchantStore` in PostgreSQL."""

    def __init__(self, url: str, *, namespace: str = "dastripathi_merchant", max_connections: int = 8) -> None:
        super().__init__(url, MERCHANT_SCHEMA, namespace=namespace, max_connections=max_connections)

    @staticmethod
    def _channel(row: Row) -> MerchantChannel:
        terms = ChannelTerms.of(Open.decode(bytes(row["open"])), bytes(row["merchant_key"]), bytes(row["merchant_spk"]))
        return MerchantChannel(terms, MerchantStatus(row["status"]), int(row["paid"]), int(row["k"]),
                               bytes(row["escrow_sig"]), bytes(row["voucher"]), row["close_txid"])

    def add_channel(self, channel: MerchantChannel) -> bool:
        t = channel.terms
        return self.query_one(
            "INSERT INTO channels (escrow_id, open, merchant_key, merchant_spk, status, paid, k, escrow_sig, voucher, "
            "close_txid) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (escrow_id) DO NOTHING RETURNING 1",
            (channel.escrow_id, t.open_message().encode(), t.merchant_key, t.merchant_spk, channel.status.value,
             channel.paid, channel.k, channel.escrow_sig, channel.voucher, channel.close_txid)) is not None

    def channel(self, escrow_id: str) -> MerchantChannel | None:
        row = self.query_one("SELECT * FROM channels WHERE escrow_id = %s", (escrow_id,))
        return None if row is None else self._channel(row)

    def channels(self, statuses: Sequence[MerchantStatus] = ()) -> list[MerchantChannel]:
        out = [self._channel(r) for r in self.query("SELECT * FROM channels ORDER BY escrow_id")]
        return [c for c in out if not statuses or c.status in statuses]

    @staticmethod
    def _update(db: psycopg.Connection[Row], c: MerchantChannel) -> None:
        db.execute("UPDATE channels SET status = %s, paid = %s, k = %s, escrow_sig = %s, voucher = %s, close_txid = %s "
                   "WHERE escrow_id = %s", (c.status.value, c.paid, c.k, c.escrow_sig, c.voucher, c.close_txid,
                                            c.escrow_id))

    def update_channel(self, channel: MerchantChannel) -> None:
        with self.transaction() as db:
            self._update(db, channel)

    def spent_voucher(self, voucher_id: bytes) -> SpentVoucher | None:
        row = self.query_one("SELECT * FROM spent_vouchers WHERE voucher_id = %s", (voucher_id,))
        if row is None:
            return None
        return SpentVoucher(bytes(row["voucher_id"]), row["escrow_id"], bytes(row["payment_id"]), bytes(row["receipt"]))

    def record_payment(self, channel: MerchantChannel, spent: SpentVoucher,
                       assertion: AssertionRecord | None = None) -> bool:
        """Atomically, across processes: mark the voucher spent and store the channel after the payment;
        False (nothing else changes) when the voucher was spent before. ``assertion`` is kept in the
        same transaction, in either case."""
        with self.transaction() as db:
            if assertion is not None:
                self.add_assertion(assertion)  # joins this transaction (same thread)
            if db.execute("INSERT INTO spent_vouchers (voucher_id, escrow_id, payment_id, receipt) "
                          "VALUES (%s, %s, %s, %s) ON CONFLICT (voucher_id) DO NOTHING RETURNING 1",
                          (spent.voucher_id, spent.escrow_id, spent.payment_id, spent.receipt)).fetchone() is None:
                return False
            self._update(db, channel)
        return True

    def blacklist(self, escrow_key: bytes, reason: str) -> None:
        self.execute("INSERT INTO blacklist (escrow_key, reason) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                     (escrow_key, reason))

    def is_blacklisted(self, escrow_key: bytes) -> bool:
        return self.query_one("SELECT 1 FROM blacklist WHERE escrow_key = %s", (escrow_key,)) is not None

    def add_assertion(self, record: AssertionRecord) -> None:
        self.execute("INSERT INTO assertions (escrow_id, k, statement, token, pos) VALUES (%s, %s, %s, %s, %s) "
                     "ON CONFLICT DO NOTHING", (record.escrow_id, record.k, record.statement, record.token, record.pos))

    def assertions(self, escrow_id: str) -> list[AssertionRecord]:
        rows = self.query("SELECT * FROM assertions WHERE escrow_id = %s ORDER BY k, statement", (escrow_id,))
        return [AssertionRecord(r["escrow_id"], int(r["k"]), bytes(r["statement"]), bytes(r["token"]), int(r["pos"]))
                for r in rows]


def _sqlite(path: str | Path, *, synchronous: str = "FULL", **_options: Any) -> SQLiteMerchantStore:
    return SQLiteMerchantStore(path)  # its own durability settings (SQLiteStore's default, FULL)


MERCHANT_STORE: StoreKind[MerchantStore] = StoreKind("dastripathi_merchant", _sqlite, PostgresMerchantStore)
"""The merchant's store for :func:`~btcmicro.store.url.open_store`."""
