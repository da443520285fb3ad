"""The payment-channel client: opens one channel, pays through it, asks for its settlement.

The client talks through a :class:`~btcmicro.channels.bitcoinj.transport.Transport`, funds its deposit
from a :class:`DepositWallet` (a :class:`~btcmicro.wallet.Funder`), and stores what it needs to
get its money back in a :class:`~btcmicro.channels.bitcoinj.store.ClientStore`: its key (encrypted), the
deposit, the signed refund (held before the deposit is handed over), the last acknowledged
payment and the one in flight. A client built on the same store after a restart resumes the
channel; a lost connection is re-established and the unacknowledged payment resent.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Protocol, Sequence, TypeVar

from bitcoin.core import CTransaction, b2lx

from btcmicro.channels.bitcoinj.config import ClientConfig, blocks_for
from btcmicro.channels.bitcoinj.contract import ChannelContract, client_change_script, decode_tx, txid_of
from btcmicro.channels.bitcoinj.messages import (
    ChannelOpen,
    ClientVersion,
    Close,
    Error,
    Initiate,
    Message,
    PaymentAck,
    ProvideContract,
    ProvideRefund,
    ReturnRefund,
    ServerVersion,
    UpdatePayment,
    error_message,
)
from btcmicro.channels.bitcoinj.store import (
    CLIENT_ABANDONED,
    CLIENT_CLOSED,
    CLIENT_OPEN,
    CLIENT_OPENING,
    CLIENT_ORPHANED,
    CLIENT_REFUNDING,
    ClientChannel,
    ClientStore,
)
from btcmicro.channels.bitcoinj.transport import Transport, TransportError
from btcmicro.core.errors import BtcmicroError, InsufficientFunds, NodeUnavailable, ProtocolError
from btcmicro.core.keys import PrivateKey, is_valid_pubkey
from btcmicro.node.chain import Chain
from btcmicro.wallet.funder import PreparedTx

__all__ = ["PaymentChannelClient", "PaymentResult", "DepositWallet", "ChannelError"]

M = TypeVar("M", bound=Message)
_LOST = (TransportError, NodeUnavailable)


class ChannelError(BtcmicroError):
    """The client cannot do what was asked in its channel's state (no channel, not open, a
    payment already in flight, the server forgot the channel)."""


class DepositWallet(Protocol):
    """Funds deposits: build and sign without broadcasting, then record or give up the coins
    (:class:`~btcmicro.wallet.Funder` is one)."""

    def prepare(self, outputs: Sequence[tuple[str | bytes, int]], *, feerate: int | None = None,
                kinds: Sequence[str] | None = None) -> PreparedTx: ...
    def mark_sent(self, prepared: PreparedTx) -> None: ...
    def release(self, prepared: PreparedTx) -> None: ...


@dataclass(frozen=True)
class PaymentResult:
    """An acknowledged payment: ``amount`` actually paid (change below dust is paid too), the
    client's ``change`` left, the channel's total ``paid``, the server's ``info``, and the
    settlement when the channel is exhausted and settled itself."""

    amount: int
    change: int
    paid: int
    info: bytes | None
    settlement: CTransaction | None = None


class PaymentChannelClient:
    """One channel to one server (versions 1, 2 and 3, ``config.version``).

    Without ``deposit_txid`` the client takes up the most recent channel in ``store`` that is
    opening or open, if any (so a restarted client resumes it); with ``new=True`` it starts empty,
    for :meth:`open` to start another channel beside the open ones.
    ``clock`` and ``key_factory`` are injectable for tests. Errors from the server arrive as
    :class:`ProtocolError` (with its code); bad server input is answered with an ERROR and
    raised as :class:`ProtocolError`.
    """

    def __init__(self, transport: Transport, chain: Chain, store: ClientStore,
                 wallet: DepositWallet | None = None, *, config: ClientConfig | None = None,
                 clock: Callable[[], float] = time.time,
                 key_factory: Callable[[], PrivateKey] = PrivateKey.generate,
                 deposit_txid: str | None = None, new: bool = False) -> None:
        self.transport = transport
        self.chain = chain
        self.store = store
        self.wallet = wallet
        self.config = config or ClientConfig()
        self.clock = clock
        self.key_factory = key_factory
        self._busy = threading.Lock()
        self._connected = False
        self._prepared: PreparedTx | None = None
        self._pending_info: bytes | None = None
        if new:  # a client for a new channel (open() next), whatever the store holds
            self._ch = None
        elif deposit_txid is None:
            active = store.channels((CLIENT_OPENING, CLIENT_OPEN))
            self._ch = active[-1] if active else None
        else:
            self._ch = store.channel(deposit_txid)
            if self._ch is None:
                raise ChannelError(f"no channel {deposit_txid} in the store")

    # --- state -------------------------------------------------------------------------------

    @property
    def channel(self) -> ClientChannel | None:
        """The channel this client works on, as last stored."""
        return self._ch

    @property
    def deposit_txid(self) -> str | None:
        return self._ch.deposit_txid if self._ch else None

    @property
    def change(self) -> int:
        """What is left for the client (last acknowledged payment)."""
        return self._require().change

    def _require(self, *statuses: str) -> ClientChannel:
        ch = self._ch
        if ch is None:
            raise ChannelError("no channel: open one first")
        if statuses and ch.status not in statuses:
            raise ChannelError(f"channel {ch.deposit_txid} is {ch.status}, not {' or '.join(statuses)}")
        return ch

    def _update(self, **fields: object) -> ClientChannel:
        ch = self._require()
        self.store.update(ch.deposit_txid, **fields)
        self._ch = replace(ch, **fields)  # type: ignore[arg-type]
        return self._ch

    def _key(self, ch: ClientChannel) -> PrivateKey:
        key = self.store.key(ch.client_key)
        if key is None:
            raise ChannelError(f"the key of channel {ch.deposit_txid} is not in the store")
        return key

    # --- messaging ---------------------------------------------------------------------------

    def _send(self, message: Message) -> list[Message]:
        try:
            replies = self.transport.exchange(message)
        except _LOST:
            self._connected = False
            raise
        for r in replies:
            if isinstance(r, Error):
                self._connected = False
                raise r.to_exception()
        return replies

    def _fail(self, code: str, detail: str, expected_value: int | None = None) -> ProtocolError:
        """Tell the server why the client gives up (best effort); the error to raise."""
        err = ProtocolError(code, detail)
        try:
            self.transport.exchange(error_message(err, expected_value))
        except _LOST:
            pass
        self._connected = False
        return err

    def _expect(self, replies: list[Message], *types: type[Message]) -> list[Message]:
        got = [type(r) for r in replies[: len(types)]]
        if len(replies) < len(types) or any(not issubclass(g, t) for g, t in zip(got, types)):
            names = " ".join(r.TYPE for r in replies) or "nothing"
            raise self._fail("SYNTAX_ERROR", f"expected {' '.join(t.TYPE for t in types)}, got {names}")
        return replies

    # --- open --------------------------------------------------------------------------------

    def open(self, value: int, info: bytes | None = None) -> ClientChannel:
        """Open a channel with a deposit of ``value`` sats; the server's minimum payment is paid at
        once (in PROVIDE_CONTRACT). Returns the open channel."""
        if self._ch is not None and self._ch.status in (CLIENT_OPENING, CLIENT_OPEN):
            raise ChannelError(f"channel {self._ch.deposit_txid} is still {self._ch.status}")
        if self.wallet is None:
            raise ChannelError("opening a channel needs a wallet to fund the deposit")
        cfg = self.config
        self.transport.reconnect()
        replies = self._send(ClientVersion(cfg.version, 0, None, cfg.time_window_secs))
        sv, init = self._expect(replies, ServerVersion, Initiate)[:2]
        assert isinstance(sv, ServerVersion) and isinstance(init, Initiate)
        self._check_initiate(sv, init, value)
        key = self.key_factory()
        self.store.save_key(key, f"channel client key v{cfg.version}")
        contract = ChannelContract(cfg.version, key.pubkey, init.multisig_key, init.expire_time_secs, "00" * 32, 0,
                                   value, client_change_script(cfg.version, key.pubkey))
        prepared = self.wallet.prepare([(contract.deposit_spk, value)], feerate=cfg.feerate,
                                       kinds=("p2wpkh",) if cfg.version == 3 else None)
        try:
            contract = replace(contract, deposit_txid=prepared.txid)
            if prepared.vout_of(contract.deposit_spk) != 0:
                raise ChannelError("the wallet did not put the deposit at output 0")
            refund = contract.refund_tx(cfg.feerate)
            if cfg.version == 1:
                rr = self._expect(self._send(ProvideRefund(key.pubkey, refund.serialize())), ReturnRefund)[0]
                assert isinstance(rr, ReturnRefund)
                try:
                    contract.check_refund_server(refund, rr.signature)
                except ProtocolError as e:
                    raise self._fail(e.code, e.detail) from None
                signed_refund = contract.complete_refund(key, refund, rr.signature)
            else:
                signed_refund = contract.complete_refund(key, refund)
            change = contract.round_change(value - init.min_payment)
            signature = contract.sign_payment(key, change)
            ch = ClientChannel(
                deposit_txid=prepared.txid, version=cfg.version, status=CLIENT_OPENING, client_key=key.pubkey,
                server_key=init.multisig_key, expiry=init.expire_time_secs, deposit_vout=0, value=value,
                deposit_hex=prepared.tx.serialize(), client_spk=contract.client_spk, min_payment=init.min_payment,
                created_at=int(self.clock()), refund_hex=signed_refund.serialize(), change=value,
                pending_change=change, pending_signature=signature)
            self.store.add_channel(ch)  # the signed refund is held before the deposit leaves
        except BaseException:
            self.wallet.release(prepared)
            raise
        self._ch, self._prepared, self._pending_info = ch, prepared, info
        try:
            replies = self._send(ProvideContract(prepared.tx.serialize(), UpdatePayment(change, signature, info),
                                                 key.pubkey if cfg.version >= 2 else None))
        except ProtocolError:
            self._abandon_if_unbroadcast()
            raise
        self._expect(replies, ChannelOpen)
        self._opened(replies[1:])
        return self._require()

    def _check_initiate(self, sv: ServerVersion, init: Initiate, value: int) -> None:
        cfg = self.config
        if sv.major != cfg.version:
            raise self._fail("NO_ACCEPTABLE_VERSION", f"asked for version {cfg.version}, server chose {sv.major}")
        if not is_valid_pubkey(init.multisig_key):
            raise self._fail("BAD_TRANSACTION", "server multisig_key is not a public key")
        if init.min_payment > cfg.max_min_payment:
            raise self._fail("MIN_PAYMENT_TOO_LARGE", f"minimum payment {init.min_payment} above "
                             f"{cfg.max_min_payment}", cfg.max_min_payment)
        if init.min_accepted_channel_size > value or init.min_payment > value:
            raise self._fail("CHANNEL_VALUE_TOO_LARGE", f"server wants at least {init.min_accepted_channel_size}"
                             f" sats, this channel holds {value}", value)
        expiry = init.expire_time_secs
        if expiry < 500_000_000:
            height = self.chain.height()
            late = height + blocks_for(cfg.time_window_secs, cfg.block_interval_secs) + cfg.expiry_slack_blocks
            ok = height < expiry <= late
        else:
            now = int(self.clock())
            ok = now < expiry <= now + cfg.time_window_secs + cfg.expiry_slack_secs
        if not ok:
            raise self._fail("TIME_WINDOW_UNACCEPTABLE", f"expiry {expiry} outside the client's time window "
                             f"of {cfg.time_window_secs} s")

    def _opened(self, rest: list[Message]) -> None:
        """CHANNEL_OPEN arrived: the deposit is out and the initial payment stored."""
        ch = self._require()
        if self._prepared is not None and self.wallet is not None:
            self.wallet.mark_sent(self._prepared)
            self._prepared = None
        self._connected = True
        if ch.status == CLIENT_OPENING:
            self._update(status=CLIENT_OPEN, change=ch.pending_change, signature=ch.pending_signature,
                         pending_change=None, pending_signature=None)
        for r in rest:
            if isinstance(r, Close):
                self._settled(r)

    def _abandon_if_unbroadcast(self) -> None:
        ch = self._require()
        if self.chain.get_tx(ch.deposit_txid) is None:
            if self._prepared is not None and self.wallet is not None:
                self.wallet.release(self._prepared)
                self._prepared = None
            self._update(status=CLIENT_ABANDONED, pending_change=None, pending_signature=None)

    # --- resume ------------------------------------------------------------------------------

    def _handshake(self) -> None:
        """A new session that resumes this channel (CLIENT_VERSION with its deposit txid)."""
        ch = self._require(CLIENT_OPENING, CLIENT_OPEN)
        self.transport.reconnect()
        replies = self._send(ClientVersion(ch.version, 0, bytes.fromhex(ch.deposit_txid), self.config.time_window_secs))
        sv, second = self._expect(replies, ServerVersion, Message)[:2]
        assert isinstance(sv, ServerVersion)
        if sv.major != ch.version:
            raise self._fail("NO_ACCEPTABLE_VERSION", f"channel is version {ch.version}, server chose {sv.major}")
        if isinstance(second, ChannelOpen):
            self._opened(replies[2:])
        elif isinstance(second, Close):
            self._settled(second)
        elif isinstance(second, Initiate):
            self._fail("OTHER", f"expected to resume channel {ch.deposit_txid}")
            self._abandon_if_unbroadcast()
            if self._require().status != CLIENT_ABANDONED:
                self._update(status=CLIENT_ORPHANED)
            raise ChannelError(f"the server does not know channel {ch.deposit_txid}: "
                               f"it is {self._require().status}")
        else:
            raise self._fail("SYNTAX_ERROR", f"unexpected {second.TYPE} after SERVER_VERSION")

    def resume(self) -> ClientChannel:
        """Reconnect to the server and take up this channel where it was: a payment sent but never
        acknowledged is resent (the server acknowledges it again if it had stored it)."""
        self._handshake()
        ch = self._require()
        if ch.status == CLIENT_OPEN and ch.pending_change is not None:
            self._deliver_pending()
        return self._require()

    def _ensure_session(self) -> None:
        if not self._connected:
            self._handshake()

    def _exchange_open(self, message: Message) -> list[Message]:
        """Send on the channel's session, reconnecting (and resuming) once if the connection drops."""
        for attempt in (0, 1):
            try:
                self._ensure_session()
                self._require(CLIENT_OPEN)
                return self._send(message)
            except _LOST:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    # --- payments ----------------------------------------------------------------------------

    def pay(self, amount: int, info: bytes | None = None) -> PaymentResult:
        """Pay ``amount`` sats more (all that is left when the change would fall below dust).
        Returns once the server acknowledged (stored) it. One payment at a time."""
        with self._one_at_a_time():
            ch = self._require(CLIENT_OPEN)
            if ch.pending_change is not None:
                self._deliver_pending()
                ch = self._require(CLIENT_OPEN)
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                raise ValueError("amount must be a positive int of sats")
            if amount > ch.change:
                raise InsufficientFunds(amount, ch.change)
            contract = ch.contract
            change = contract.round_change(ch.change - amount)
            signature = contract.sign_payment(self._key(ch), change)
            self._update(pending_change=change, pending_signature=signature)  # resendable after a crash
            self._pending_info = info
            return self._deliver_pending()

    @contextmanager
    def _one_at_a_time(self) -> Iterator[None]:
        if not self._busy.acquire(blocking=False):
            raise ChannelError("a payment is already in flight")
        try:
            yield
        finally:
            self._busy.release()

    def _deliver_pending(self) -> PaymentResult:
        ch = self._require(CLIENT_OPEN)
        assert ch.pending_change is not None and ch.pending_signature is not None
        message = UpdatePayment(ch.pending_change, ch.pending_signature, self._pending_info)
        replies = self._expect(self._exchange_open(message), PaymentAck)
        ack = replies[0]
        assert isinstance(ack, PaymentAck)
        before = ch.change
        ch = self._update(change=ch.pending_change, signature=ch.pending_signature,
                          pending_change=None, pending_signature=None)
        self._pending_info = None
        settlement = None
        for r in replies[1:]:
            if isinstance(r, Close):
                settlement = self._settled(r)
        return PaymentResult(before - ch.change, ch.change, ch.paid, ack.info, settlement)

    # --- close and refund --------------------------------------------------------------------

    def close(self) -> CTransaction:
        """Ask the server to settle; returns its settlement (checked to spend the deposit and pay
        this client its change)."""
        with self._one_at_a_time():
            ch = self._require(CLIENT_OPEN)
            if ch.pending_change is not None:
                self._deliver_pending()
            reply = self._expect(self._exchange_open(Close()), Close)[0]
            assert isinstance(reply, Close)
            return self._settled(reply)

    def _settled(self, close: Close) -> CTransaction:
        ch = self._require()
        if close.tx is None:
            raise self._fail("SYNTAX_ERROR", "the server's CLOSE carries no settlement")
        try:
            tx = decode_tx(close.tx, "settlement")
        except ProtocolError as e:
            raise self._fail(e.code, e.detail) from None
        spends = any(b2lx(i.prevout.hash) == ch.deposit_txid and i.prevout.n == ch.deposit_vout for i in tx.vin)
        owed = min(ch.change, ch.pending_change if ch.pending_change is not None else ch.change)
        paid_back = max([o.nValue for o in tx.vout if bytes(o.scriptPubKey) == ch.client_spk], default=0)
        if not spends:
            raise self._fail("BAD_TRANSACTION", "the settlement does not spend the deposit")
        if paid_back < owed:
            raise self._fail("BAD_TRANSACTION", f"the settlement pays the client {paid_back}, not its {owed}")
        fields: dict[str, object] = {"status": CLIENT_CLOSED, "settlement_txid": txid_of(tx),
                                     "pending_change": None, "pending_signature": None}
        if ch.pending_change is not None and paid_back == ch.pending_change:  # it settled the payment in flight
            fields.update(change=ch.pending_change, signature=ch.pending_signature)
        self._connected = False
        self._update(**fields)
        return tx

    def refund(self) -> str:
        """Broadcast the signed refund; its txid. The node refuses it (``NodeError``, "non-final")
        until the expiry: by height, or by median-time-past for a time expiry."""
        ch = self._require()
        txid = self.chain.broadcast(ch.refund_hex.hex())
        self._update(status=CLIENT_REFUNDING, refund_txid=txid)
        return txid
