"""The metered client's session: log in, open, pay ahead of use, close; what its page shows.

:class:`MeterSession` is the client app's logic (the paper's Figure 1 from the client's side). It
talks to the key server and the router through ports (:class:`KeyPort`, :class:`RouterPort`) and
opens its channel with a :class:`~btcmicro.channels.bitcoinj.PaymentChannelClient` a factory builds
(so the same session runs over HTTP or in-process). Its states are one table,
:data:`METER_TRANSITIONS`; an event absent from the current state's row raises ``ProtocolError``
and changes nothing.

The service calls :meth:`MeterSession.login` (key retrieval, fast, its errors go to the page), then
:meth:`MeterSession.open` (in a thread: the opening steps appear one by one), and
:meth:`MeterSession.step` every few tens of milliseconds: it reads the usage from the router, pays
the next increment when less than ``pay_below_bytes`` of the prepaid allotment is left, closes the
channel when the page stopped asking (the tab closed), and follows the chain (the client watcher
broadcasts the refund after the lock time when the router is gone).
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from bitcoin.core import CTransaction, b2lx

from btcmicro.channels.bitcoinj.client import PaymentChannelClient
from btcmicro.channels.bitcoinj.messages import ChannelOpen, Message, ProvideContract
from btcmicro.channels.bitcoinj.metered.meter import MEGABYTE, Tariff
from btcmicro.channels.bitcoinj.metered.router import sign_grant
from btcmicro.channels.bitcoinj.stores import ClientStatus
from btcmicro.channels.bitcoinj.transport import Transport
from btcmicro.channels.bitcoinj.watcher import ClientWatcher
from btcmicro.core.errors import BtcmicroError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.ports import Chain

__all__ = ["MeterState", "METER_TRANSITIONS", "KeyPort", "RouterPort", "ObservedTransport", "MeterSession",
           "ClientFactory", "PAPER_FIELDS"]


class MeterState(str, Enum):
    """Where the client's session stands (the page shows it)."""

    LOGGED_OUT = "logged out"
    KEY_DECRYPTED = "key decrypted"  # steps 1-3: the key server's blob opened with the password
    REFUND_SIGNED = "refund signed"  # steps 4-8: deposit built, refund signed and held
    DEPOSIT_SENT = "deposit sent"  # step 9: the deposit handed to the router
    DEPOSIT_BROADCAST = "deposit broadcast"  # step 10: the router broadcast it (seen by the node)
    OPEN = "open"  # step 11: the channel is open and the proxy grants traffic
    CLOSING = "closing"  # step 15: CLOSE sent
    CLOSED = "closed"  # step 16-17: the router broadcast the final payment
    SETTLED = "settled"  # the final payment is mined
    REFUNDING = "refunding"  # the router is gone: the refund is broadcast after the lock time
    REFUNDED = "refunded"  # the refund is mined
    FAILED = "failed"  # the opening failed (nothing locked, or the refund follows)

    def __str__(self) -> str:
        return self.value


_S = MeterState
#: ``METER_TRANSITIONS[state][event] -> next state``.
METER_TRANSITIONS: dict[MeterState, dict[str, MeterState]] = {
    _S.LOGGED_OUT: {"key_decrypted": _S.KEY_DECRYPTED},
    _S.KEY_DECRYPTED: {"refund_signed": _S.REFUND_SIGNED, "failed": _S.FAILED},
    _S.REFUND_SIGNED: {"deposit_sent": _S.DEPOSIT_SENT, "failed": _S.FAILED},
    _S.DEPOSIT_SENT: {"deposit_broadcast": _S.DEPOSIT_BROADCAST, "failed": _S.FAILED,
                      "refund_broadcast": _S.REFUNDING},
    _S.DEPOSIT_BROADCAST: {"granted": _S.OPEN, "failed": _S.FAILED, "refund_broadcast": _S.REFUNDING},
    _S.OPEN: {"close": _S.CLOSING, "closed": _S.CLOSED, "settled": _S.SETTLED, "refund_broadcast": _S.REFUNDING},
    _S.CLOSING: {"closed": _S.CLOSED, "close_failed": _S.OPEN, "settled": _S.SETTLED,
                 "refund_broadcast": _S.REFUNDING},
    _S.CLOSED: {"settled": _S.SETTLED},
    _S.SETTLED: {},
    _S.REFUNDING: {"refunded": _S.REFUNDED, "settled": _S.SETTLED},
    _S.REFUNDED: {},
    _S.FAILED: {"refund_broadcast": _S.REFUNDING, "settled": _S.SETTLED},
}

#: The live view's fields the paper names (its step 14: "megabytes of bandwidth consumed, funds
#: remaining", and the price on the login page); every other field is an addition, marked on the page.
PAPER_FIELDS = ("price", "used_mb", "remaining")


class KeyPort(Protocol):
    def fetch_key(self, username: str, password: str) -> PrivateKey:
        """Log in and decrypt the key; ``ProtocolError`` (``BAD_LOGIN``, ``TOO_MANY_ATTEMPTS``) otherwise."""
        ...


class RouterPort(Protocol):
    def terms(self) -> dict[str, Any]: ...

    def challenge(self) -> str: ...

    def grant(self, deposit_txid: str, challenge: str, signature: str) -> dict[str, Any]: ...

    def usage(self, token: str) -> dict[str, Any]: ...


#: Builds the channel client for a decrypted key, its transport wrapped by the given function.
ClientFactory = Callable[[PrivateKey, Callable[[Transport], Transport]], PaymentChannelClient]


class ObservedTransport:
    """A transport that tells ``observer`` of each message sent (before) and each reply (after)."""

    def __init__(self, inner: Transport, observer: Callable[[str, Message], None]) -> None:
        self.inner = inner
        self.observer = observer

    def exchange(self, message: Message) -> list[Message]:
        self.observer("send", message)
        replies = self.inner.exchange(message)
        for r in replies:
            self.observer("reply", r)
        return replies

    def reconnect(self) -> None:
        self.inner.reconnect()


@dataclass
class _Payment:
    n: int
    amount: int
    paid: int  # the channel's total after it, as the router acknowledged
    router_allotment_bytes: int
    left_before_bytes: int | None  # prepaid bytes left when the router stored it
    at: float


class MeterSession:
    """One person's session on one router (see the module docstring)."""

    def __init__(self, keys: KeyPort, router: RouterPort, chain: Chain, make_client: ClientFactory, *,
                 deposit: int = 100_000, pay_below_bytes: int | None = None, page_timeout: float = 5.0,
                 proxy_url: str | None = None, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self.router = router
        self.chain = chain
        self.make_client = make_client
        self.deposit = deposit
        self.page_timeout = page_timeout
        self.proxy_url = proxy_url
        self.clock = clock
        self.wall_clock = wall_clock
        self.autopay = True
        self._pay_below = pay_below_bytes
        self._lock = threading.RLock()
        self._channel_lock = threading.Lock()  # one payment or close at a time (worker, page)
        self.state = MeterState.LOGGED_OUT
        self.steps: list[dict[str, Any]] = [{"state": str(self.state), "at": wall_clock()}]
        self.error: str | None = None
        self.username: str | None = None
        self.client: PaymentChannelClient | None = None
        self._key: PrivateKey | None = None
        self.watcher: ClientWatcher | None = None
        self.tariff: Tariff | None = None
        self.token: str | None = None
        self.usage: dict[str, Any] = {}
        self.usage_at: float | None = None
        self.router_reachable = True
        self.payments: list[_Payment] = []
        self.samples: list[tuple[float, int]] = []
        self.last_seen = clock()
        self.closed_because: str | None = None
        self._height = -1
        self._confs: dict[str, int] = {}
        self._confs_at = 0.0
        self._started = clock()

    # --- the table -------------------------------------------------------------------------------

    def event(self, name: str) -> MeterState:
        """Move by ``name`` through :data:`METER_TRANSITIONS`; ProtocolError (nothing changes) if absent."""
        with self._lock:
            nxt = METER_TRANSITIONS[self.state].get(name)
            if nxt is None:
                raise ProtocolError("BAD_STATE", f"{name} is not possible while {self.state}")
            self.state = nxt
            self.steps.append({"state": str(nxt), "at": self.wall_clock()})
            return nxt

    def _try(self, name: str) -> None:
        with self._lock:
            if name in METER_TRANSITIONS[self.state]:
                self.event(name)

    # --- terms and login -------------------------------------------------------------------------

    def terms(self) -> dict[str, Any]:
        """The router's price, read live (the login page renders it)."""
        t = self.router.terms()
        if t.get("proxy_url"):
            self.proxy_url = str(t["proxy_url"])
        self.tariff = Tariff(int(t["price_sats_per_mb"]), int(t["increment_bytes"]))
        return t

    @property
    def pay_below_bytes(self) -> int:
        assert self.tariff is not None
        return self._pay_below if self._pay_below is not None else self.tariff.increment_bytes // 2

    def login(self, username: str, password: str) -> None:
        """Steps 1-3: fetch and decrypt the key. Raises (and changes nothing) on a bad login."""
        with self._lock:
            if self.state is not MeterState.LOGGED_OUT:
                raise ProtocolError("BAD_STATE", f"already logged in ({self.state})")
        key = self.keys.fetch_key(username, password)
        self.terms()
        with self._lock:
            self.username = username
            self.error = None
            self.event("key_decrypted")
            self._key = key
            self.last_seen = self.clock()

    def open(self) -> None:
        """Steps 4-11 (run it in a thread: each step shows on the page as it happens)."""
        assert self.tariff is not None
        try:
            assert self._key is not None
            self.client = self.make_client(self._key, lambda t: ObservedTransport(t, self._observe))
            ch = self.client.open(self.deposit)
            self.watcher = ClientWatcher(self.chain, self.client.store, config=self.client.config)
            self._grant(ch.deposit_txid)
        except BtcmicroError as e:
            with self._lock:
                self.error = f"opening failed: {e}"
                self._try("failed")

    def _observe(self, direction: str, message: Message) -> None:
        if direction == "send" and isinstance(message, ProvideContract):
            self._try("refund_signed")  # the client stored the signed refund before it sends the deposit
            self._try("deposit_sent")
        elif direction == "reply" and isinstance(message, ChannelOpen) and self.state is MeterState.DEPOSIT_SENT:
            self._try("deposit_broadcast")

    def _grant(self, deposit_txid: str) -> None:
        assert self.client is not None
        ch = self.client.channel
        assert ch is not None
        key = self.client.store.key(ch.client_key)
        assert key is not None
        challenge = self.router.challenge()
        g = self.router.grant(deposit_txid, challenge, sign_grant(key, deposit_txid, challenge))
        with self._lock:
            self.token = str(g["token"])
            self.usage = dict(g["usage"])
            self.usage_at = self.clock()
            self.samples.append((self.clock() - self._started, int(self.usage.get("used_bytes", 0))))
            if self.state is not MeterState.OPEN:
                self.event("granted")

    # --- running ---------------------------------------------------------------------------------

    def seen(self) -> None:
        """The page asked for the state (its heartbeat)."""
        self.last_seen = self.clock()

    def step(self) -> None:
        """One round: usage, the next payment, the tab's heartbeat, the chain."""
        if self.state is MeterState.OPEN:
            self._poll_usage()
            gone = bool(self.page_timeout) and self.clock() - self.last_seen > self.page_timeout
            if self.state is MeterState.OPEN and gone:
                self.logout("the page went away")
            elif self.state is MeterState.OPEN:
                self._maybe_pay()
        self._follow_chain()

    def _poll_usage(self) -> None:
        assert self.token is not None
        try:
            try:
                u = self.router.usage(self.token)
            except ProtocolError as e:
                if e.code != "UNKNOWN_TOKEN" or self.client is None or self.client.channel is None:
                    raise
                self._grant(self.client.channel.deposit_txid)  # the router restarted: a new grant
                assert self.token is not None
                u = self.router.usage(self.token)
        except ProtocolError as e:
            if e.code in ("CHANNEL_CLOSED", "UNKNOWN_CHANNEL"):  # the router settled it meanwhile
                self._try("closed")
                return
            with self._lock:
                self.error = f"the router refuses the usage: {e}"
            return
        except BtcmicroError as e:
            with self._lock:
                self.router_reachable = False
                self.error = f"router unreachable ({e}); the refund is broadcast after the lock time"
            return
        with self._lock:
            if not self.router_reachable:
                self.error = None
            self.router_reachable = True
            changed = int(u.get("used_bytes", 0)) != int(self.usage.get("used_bytes", -1))
            self.usage, self.usage_at = u, self.clock()
            if changed:
                self.samples.append((self.clock() - self._started, int(u["used_bytes"])))
                del self.samples[:-600]
            if not u.get("open", True):  # the router closed it (out of funds, or the lock time is near)
                self._try("closed")

    def _maybe_pay(self) -> None:
        assert self.client is not None and self.tariff is not None
        ch = self.client.channel
        if not self.autopay or ch is None or self.usage.get("open") is False:
            return
        left = int(self.usage.get("allotment_bytes", 0)) - int(self.usage.get("used_bytes", 0))
        if left >= self.pay_below_bytes or ch.change < self.tariff.increment_sats:
            return
        info = json.dumps({"used_bytes": self.usage.get("used_bytes", 0)}).encode()
        try:
            with self._channel_lock:
                if self.state is not MeterState.OPEN:
                    return
                r = self.client.pay(self.tariff.increment_sats, info)
        except BtcmicroError as e:
            with self._lock:
                self.error = f"payment failed: {e}"
            return
        ack = json.loads(r.info) if r.info else {}
        with self._lock:
            self.error = None
            if ack.get("paid") != r.paid:
                self.error = f"the router acknowledged {ack.get('paid')} sats paid, the client counts {r.paid}"
            self.payments.append(_Payment(len(self.payments) + 1, r.amount, int(ack.get("paid", -1)),
                                          int(ack.get("allotment_bytes", 0)), ack.get("left_before_bytes"),
                                          self.wall_clock()))
            self.usage = {**self.usage, **{k: ack[k] for k in ("paid", "remaining", "allotment_bytes", "payments")
                                           if k in ack}}

    def logout(self, why: str = "logged off") -> None:
        """Step 15: ask the router to close; its settlement carries the best payment."""
        with self._lock:
            if self.state is not MeterState.OPEN:
                return
            self.event("close")
            self.closed_because = why
        assert self.client is not None
        try:
            with self._channel_lock:
                self.client.close()
        except BtcmicroError as e:
            with self._lock:
                self.error = f"close failed ({why}): {e}; the refund is broadcast after the lock time"
                self._try("close_failed")
            return
        with self._lock:
            self.error = None
            self._try("closed")

    def _follow_chain(self) -> None:
        if self.client is None or self.client.channel is None:
            return
        try:
            height = self.chain.height()
        except BtcmicroError:
            return
        new_block = height != self._height
        if not new_block and self.clock() - self._confs_at < 1.0:
            return  # the confirmations are looked up at each block, and at least once a second
        self._height, self._confs_at = height, self.clock()
        if new_block and self.watcher is not None:
            try:
                events = self.watcher.poll()
            except BtcmicroError:
                events = []
            for e in events:
                if e.kind == "refund_broadcast":
                    self._try("refund_broadcast")
                elif e.kind == "refunded":
                    self._try("refund_broadcast")
                    self._try("refunded")
                elif e.kind == "settled":
                    self._try("settled")
        ch = self.client.store.channel(self.client.channel.deposit_txid)
        if ch is not None:
            if ch.status is ClientStatus.SETTLED:
                self._try("settled")
            for txid in (ch.deposit_txid, ch.settlement_txid, ch.refund_txid):
                if txid is not None:
                    st = self.chain.get_tx(txid)
                    self._confs[txid] = st.confirmations if st is not None else -1

    # --- the page's view -------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        """Everything the live view shows (sats, bytes, heights; None where not known yet)."""
        with self._lock:
            ch = self.client.store.channel(self.client.channel.deposit_txid) \
                if self.client is not None and self.client.channel is not None else None
            tariff = self.tariff
            u = self.usage
            used = int(u.get("used_bytes", 0))
            allot = int(u.get("allotment_bytes", 0))
            last = self.payments[-1] if self.payments else None

            def tx(txid: str | None) -> dict[str, Any] | None:
                return None if txid is None else {"txid": txid, "confirmations": self._confs.get(txid)}

            settlement = ch.settlement_txid if ch is not None else None
            if settlement is None and self.client is not None and self.client.channel is not None:
                settlement = self.client.channel.settlement_txid
            return {
                "username": self.username, "state": str(self.state), "steps": list(self.steps), "error": self.error,
                "price": tariff.price if tariff else None,
                "increment_bytes": tariff.increment_bytes if tariff else None,
                "increment_sats": tariff.increment_sats if tariff else None,
                "deposit": ch.value if ch else None,
                "paid": ch.paid if ch else None,
                "remaining": ch.change if ch else None,
                "used_bytes": used, "used_mb": used / MEGABYTE,
                "prepaid_unused_bytes": max(0, allot - used), "prepaid_unused_mb": max(0, allot - used) / MEGABYTE,
                "allotment_bytes": allot,
                "payments": len(self.payments),
                "last_payment": None if last is None else {"n": last.n, "amount": last.amount, "paid": last.paid,
                                                           "allotment_bytes": last.router_allotment_bytes},
                "payment_log": [{"n": p.n, "amount": p.amount, "paid": p.paid, "left_before_bytes": p.left_before_bytes}
                                for p in self.payments[-20:]],
                "lock_time": ch.expiry if ch else None,
                "height": self._height if self._height >= 0 else None,
                "blocks_left": ch.expiry - self._height if ch and self._height >= 0 else None,
                "deposit_tx": tx(ch.deposit_txid if ch else None),
                "close_tx": tx(settlement),
                "refund_tx": tx(ch.refund_txid if ch else None),
                "refund_txid_if_needed": _refund_txid(ch.refund_hex) if ch else None,
                "samples": [[round(t, 2), b] for t, b in self.samples],
                "router_reachable": self.router_reachable,
                "autopay": self.autopay,
                "proxy": self.proxy_credentials(),
            }

    def proxy_credentials(self) -> dict[str, str] | None:
        """The proxy and the credentials this channel's traffic carries (Basic: deposit txid, token)."""
        if self.proxy_url is None or self.token is None or self.client is None or self.client.channel is None:
            return None
        txid = self.client.channel.deposit_txid
        host = self.proxy_url.split("://", 1)[-1]
        return {"url": self.proxy_url, "username": txid, "password": self.token,
                "with_credentials": f"http://{txid}:{self.token}@{host}"}


def _refund_txid(refund_hex: bytes) -> str:
    """The txid of the signed refund the client holds."""
    return str(b2lx(CTransaction.deserialize(refund_hex).GetTxid()))
