"""Watchers follow the chain for channel parties; the caller decides when (e.g. once per block).

- :class:`ServerWatcher`: settles every open channel whose expiry is within the margin (blocks
  for a height expiry, seconds of median-time-past for a time expiry), notices a refund or any
  other spend of a deposit it did not sign (and marks the channel), re-broadcasts a settlement a
  reorg took out of the chain (or the mempool lost), and forgets a channel once its settlement
  has ``close_confirmations``.
- :class:`ClientWatcher`: broadcasts the refund once the expiry has passed (by height, or by the
  client's clock for a time expiry: the node then judges it by median-time-past and may refuse it
  as non-final) and tries again at every poll until it has ``refund_confirmations``; records the
  server's settlement once it confirms. bitcoinj broadcast its refund once, at wall-clock expiry
  + 5 minutes, when median-time-past often still made it non-final.

Each :meth:`poll` returns the :class:`WatchEvent` list of what it did or saw.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bitcoin.core import CTransaction

from btcmicro.channels.bitcoinj.config import ClientConfig
from btcmicro.channels.bitcoinj.server import PaymentChannelServer
from btcmicro.channels.bitcoinj.stores import (
    CLIENT_WATCHED,
    ClientChannel,
    ClientStatus,
    ClientStore,
    ServerChannel,
    ServerStatus,
)
from btcmicro.core.errors import NodeError, ProtocolError
from btcmicro.ports import Chain, Clock, SpendInfo

__all__ = ["WatchEvent", "ServerWatcher", "ClientWatcher", "SERVER_WATCH", "CLIENT_WATCH"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchEvent:
    """Something a watcher did or saw. ``kind`` is one of:

    server: ``closed`` (settled at the margin), ``close_failed``, ``close_rebroadcast``,
    ``close_reorged`` (a confirmed settlement left the chain), ``close_replaced`` (another of
    our settlements confirmed), ``refunded``, ``foreign_spend``, ``deposit_rebroadcast``,
    ``forgotten``; client: ``refund_broadcast``, ``refund_refused``, ``refunded``, ``settled``.
    """

    kind: str
    deposit_txid: str
    txid: str | None = None
    detail: str = ""


def _deposit_spend(chain: Chain, ch: ServerChannel | ClientChannel) -> SpendInfo | None:
    """The transaction spending the deposit, or None while it is unspent (or unknown)."""
    if chain.get_utxo(ch.deposit_txid, ch.deposit_vout) is not None:
        return None
    deposit = chain.get_tx(ch.deposit_txid)
    if deposit is None:
        return None
    start = deposit.block_height if deposit.block_height is not None else chain.height()
    return chain.find_spend(ch.deposit_txid, ch.deposit_vout, from_height=start)


def _confirmations(chain: Chain, spend: SpendInfo) -> int:
    return 0 if spend.block_height is None else chain.height() - spend.block_height + 1


class ServerWatcher:
    """Keeps a :class:`PaymentChannelServer`'s channels safe as the chain moves."""

    def __init__(self, server: PaymentChannelServer) -> None:
        self.server = server
        self.chain = server.chain
        self.store = server.store
        self.config = server.config

    def due(self, ch: ServerChannel, height: int, mtp: int) -> bool:
        """Whether ``ch`` must be settled now: its expiry is within the margin."""
        if ch.contract.expiry_is_height:
            return height >= ch.expiry - self.config.close_margin_blocks
        return mtp >= ch.expiry - self.config.close_margin_secs

    def poll(self) -> list[WatchEvent]:
        events: list[WatchEvent] = []
        height, mtp = self.chain.height(), self.chain.median_time_past()
        for ch in self.store.channels(SERVER_WATCH):
            try:
                events += SERVER_WATCH[ch.status][0](self, ch, height, mtp)
            except NodeError as e:
                log.warning("watcher: channel %s: %s", ch.deposit_txid, e)
        return events

    def _open(self, ch: ServerChannel, height: int, mtp: int) -> list[WatchEvent]:
        if self.chain.get_utxo(ch.deposit_txid, ch.deposit_vout) is None:
            if self.chain.get_tx(ch.deposit_txid) is None:  # never relayed, or lost in a reorg
                try:
                    self.chain.broadcast(ch.deposit_hex.hex())
                    return [WatchEvent("deposit_rebroadcast", ch.deposit_txid, ch.deposit_txid)]
                except NodeError as e:
                    return [WatchEvent("deposit_rebroadcast", ch.deposit_txid, None, e.message)]
            spend = _deposit_spend(self.chain, ch)
            if spend is not None:
                return self._foreign(ch, spend)
            return []
        if not self.due(ch, height, mtp):
            return []
        try:
            res = self.server.close_channel(ch.deposit_txid)
        except ProtocolError as e:
            return [WatchEvent("close_failed", ch.deposit_txid, None, e.detail)]
        return [WatchEvent("closed", ch.deposit_txid, res.txid, res.broadcast_error or "")]

    def _foreign(self, ch: ServerChannel, spend: SpendInfo) -> list[WatchEvent]:
        """The deposit was spent by a transaction this server did not broadcast as its settlement."""
        if spend.txid in self.store.close_txids(ch.deposit_txid):
            self.store.update(ch.deposit_txid, status=ServerStatus.CLOSING, close_txid=spend.txid, close_height=None)
            return [WatchEvent("close_replaced", ch.deposit_txid, spend.txid)]
        tx = CTransaction.deserialize(bytes.fromhex(spend.hex))
        status = ServerStatus.REFUNDED if ch.contract.is_refund(tx) else ServerStatus.FOREIGN_SPEND
        self.store.update(ch.deposit_txid, status=status, spent_by=spend.txid)
        kind = "refunded" if status == ServerStatus.REFUNDED else "foreign_spend"
        return [WatchEvent(kind, ch.deposit_txid, spend.txid)]

    def _closing(self, ch: ServerChannel, height: int, mtp: int) -> list[WatchEvent]:
        assert ch.close_txid is not None and ch.close_hex is not None
        st = self.chain.get_tx(ch.close_txid)
        if st is not None and st.confirmations > 0:
            if st.confirmations >= self.config.close_confirmations:
                self.store.remove(ch.deposit_txid)
                return [WatchEvent("forgotten", ch.deposit_txid, ch.close_txid,
                                   f"{st.confirmations} confirmations")]
            if ch.close_height != st.block_height:
                self.store.update(ch.deposit_txid, close_height=st.block_height)
            return []
        events: list[WatchEvent] = []
        if ch.close_height is not None:  # it was confirmed: a reorg took it out
            self.store.update(ch.deposit_txid, close_height=None)
            events.append(WatchEvent("close_reorged", ch.deposit_txid, ch.close_txid,
                                     f"was in block {ch.close_height}"))
        spend = _deposit_spend(self.chain, ch)
        if spend is not None and spend.txid != ch.close_txid:
            return events + self._foreign(ch, spend)
        try:
            self.chain.broadcast(ch.close_hex.hex())
            if st is None or events:
                events.append(WatchEvent("close_rebroadcast", ch.deposit_txid, ch.close_txid))
        except NodeError as e:
            events.append(WatchEvent("close_rebroadcast", ch.deposit_txid, None, e.message))
        return events


class ClientWatcher:
    """Gets a client's deposits back: settlement seen, or refund after the expiry."""

    def __init__(self, chain: Chain, store: ClientStore, *, config: ClientConfig | None = None,
                 clock: Clock = time.time) -> None:
        self.chain = chain
        self.store = store
        self.config = config or ClientConfig()
        self.clock = clock

    def expired(self, ch: ClientChannel, height: int) -> bool:
        """Whether the refund may be tried: the tip reached the expiry height, or the client's
        clock passed the expiry time (the node still judges it by median-time-past)."""
        if ch.contract.expiry_is_height:
            return height >= ch.expiry
        return self.clock() >= ch.expiry

    def poll(self) -> list[WatchEvent]:
        events: list[WatchEvent] = []
        height = self.chain.height()
        for ch in self.store.channels(CLIENT_WATCH):
            try:
                events += CLIENT_WATCH[ch.status][0](self, ch, height)
            except NodeError as e:
                log.warning("client watcher: channel %s: %s", ch.deposit_txid, e)
        return events

    def _check(self, ch: ClientChannel, height: int) -> list[WatchEvent]:
        spend = _deposit_spend(self.chain, ch)
        refund_txid = CTransaction.deserialize(ch.refund_hex).GetTxid()[::-1].hex()
        if spend is None:
            if not self.expired(ch, height):
                return []
            try:
                txid = self.chain.broadcast(ch.refund_hex.hex())
            except NodeError as e:
                return [WatchEvent("refund_refused", ch.deposit_txid, refund_txid, e.message)]
            if ch.status != ClientStatus.REFUNDING:
                self.store.update(ch.deposit_txid, status=ClientStatus.REFUNDING, refund_txid=txid)
            return [WatchEvent("refund_broadcast", ch.deposit_txid, txid)]
        confs = _confirmations(self.chain, spend)
        if spend.txid == refund_txid:
            if confs >= self.config.refund_confirmations:
                self.store.update(ch.deposit_txid, status=ClientStatus.REFUNDED, refund_txid=spend.txid)
                return [WatchEvent("refunded", ch.deposit_txid, spend.txid, f"{confs} confirmations")]
            if spend.block_height is None:
                self.chain.broadcast(ch.refund_hex.hex())  # still in the mempool: keep it there
            return []
        if confs >= 1:
            self.store.update(ch.deposit_txid, status=ClientStatus.SETTLED, settlement_txid=spend.txid)
            return [WatchEvent("settled", ch.deposit_txid, spend.txid)]
        if ch.status not in (ClientStatus.CLOSED,):
            self.store.update(ch.deposit_txid, status=ClientStatus.CLOSED, settlement_txid=spend.txid)
        return []


_SS, _CS = ServerStatus, ClientStatus

#: The server watcher's table: ``SERVER_WATCH[stored status] -> (what it does at each poll, the
#: statuses it may leave the channel in)``; None means the channel is forgotten (its settlement is
#: deep enough). Its events come from the chain, not from a peer; a status absent from the table
#: (refunded, foreign_spend) is final and not watched.
SERVER_WATCH: dict[ServerStatus, tuple[Callable[[ServerWatcher, ServerChannel, int, int], list[WatchEvent]],
                                       frozenset[ServerStatus | None]]] = {
    _SS.OPEN: (ServerWatcher._open, frozenset({_SS.OPEN, _SS.CLOSING, _SS.REFUNDED, _SS.FOREIGN_SPEND})),
    _SS.CLOSING: (ServerWatcher._closing, frozenset({_SS.CLOSING, _SS.REFUNDED, _SS.FOREIGN_SPEND, None})),
}

_CLIENT_NEXT = frozenset({_CS.REFUNDING, _CS.REFUNDED, _CS.SETTLED, _CS.CLOSED})
#: The client watcher's table: ``CLIENT_WATCH[stored status] -> (what it does at each poll, the
#: statuses it may move the channel to)`` (it may also leave it as it is). Statuses absent from the
#: table (settled, refunded, abandoned) are final.
CLIENT_WATCH: dict[ClientStatus, tuple[Callable[[ClientWatcher, ClientChannel, int], list[WatchEvent]],
                                       frozenset[ClientStatus]]] = {
    status: (ClientWatcher._check, _CLIENT_NEXT | {status}) for status in CLIENT_WATCHED
}
