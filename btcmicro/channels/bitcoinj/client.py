"""The payment-channel client: opens one channel, pays through it, asks for its settlement.

The client talks through a :class:`~btcmicro.channels.bitcoinj.transport.Transport`, funds its deposit
from a :class:`~btcmicro.ports.Wallet` (a :class:`~btcmicro.wallet.Funder`), and stores what it needs to
get its money back in a :class:`~btcmicro.channels.bitcoinj.stores.ClientStore`: its key (encrypted), the
deposit, the signed refund (held before the deposit is handed over), the last acknowledged
payment and the one in flight. A client built on the same store after a restart resumes the
channel; a lost connection is re-established and the unacknowledged payment resent.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

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
    ResumeChallenge,
    ResumeProof,
    ReturnRefund,
    ServerVersion,
    UpdatePayment,
    error_message,
    resume_digest,
)
from btcmicro.channels.bitcoinj.stores import ClientChannel, ClientStatus, ClientStore
from btcmicro.channels.bitcoinj.transport import Transport, TransportError
from btcmicro.core.errors import BtcmicroError, InsufficientFunds, NodeUnavailable, ProtocolError
from btcmicro.core.keys import PrivateKey, is_valid_pubkey
from btcmicro.ports import Chain, Clock, PreparedFunding, Wallet

__all__ = ["PaymentChannelClient", "PaymentResult", "ChannelError", "ClientState", "CLIENT_TRANSITIONS"]

#: A message or its reply may be lost: the transport's TransportError, or the node not answering.
_LOST = (TransportError, NodeUnavailable)


class ChannelError(BtcmicroError):
    """The client cannot do what was asked in its channel's state (no channel, not open, a
    payment already in flight, the server forgot the channel)."""


class ClientState(str, Enum):
    """What the client's session expects next from the server (in memory; the channel's stored
    status is a :class:`~btcmicro.channels.bitcoinj.stores.ClientStatus`)."""

    IDLE = "idle"  # no session (none yet, or the last one ended or failed)
    AWAIT_VERSION = "await_version"  # CLIENT_VERSION sent for a new channel
    AWAIT_INITIATE = "await_initiate"  # SERVER_VERSION seen: the server's terms next
    INITIATED = "initiated"  # terms accepted: the client builds the deposit and refund
    AWAIT_REFUND = "await_refund"  # version 1: PROVIDE_REFUND sent
    AWAIT_OPEN = "await_open"  # PROVIDE_CONTRACT sent
    AWAIT_RESUME_VERSION = "await_resume_version"  # CLIENT_VERSION sent with the deposit txid
    AWAIT_RESUME = "await_resume"  # SERVER_VERSION seen: the server's challenge next
    OPEN = "open"  # the channel is open on this session; nothing in flight
    AWAIT_ACK = "await_ack"  # UPDATE_PAYMENT sent
    AWAIT_CLOSE = "await_close"  # CLOSE sent
    CHALLENGED = "challenged"  # RESUME_CHALLENGE seen: the client signs it with the channel's key
    AWAIT_RESUMED = "await_resumed"  # RESUME_PROOF sent: the channel's state on the server next

    def __str__(self) -> str:
        return self.value


_AWAITING = frozenset(s for s in ClientState if s.name.startswith("AWAIT_"))


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

    Every server message goes through :data:`CLIENT_TRANSITIONS` (:meth:`receive`);
    ``on_transition``, when set, is called with (state, message, next state) for each one.
    """

    def __init__(self, transport: Transport, chain: Chain, store: ClientStore,
                 wallet: Wallet | None = None, *, config: ClientConfig | None = None,
                 clock: Clock = time.time,
                 key_factory: Callable[[], PrivateKey] = PrivateKey.generate,
                 deposit_txid: str | None = None, new: bool = False) -> None:
        self.transport = transport
        self.chain = chain
        self.store = store
        self.wallet = wallet
        self.config = config or ClientConfig()
        self.clock = clock
        self.key_factory = key_factory
        self.on_transition: Callable[[ClientState, Message, ClientState], None] | None = None
        self._busy = threading.Lock()
        self._state = ClientState.IDLE
        self._prepared: PreparedFunding | None = None
        self._pending_info: bytes | None = None
        self._opening_value = 0  # the deposit open() offers, for the INITIATE check
        self._initiate: Initiate | None = None  # the accepted terms (open)
        self._refund_signature: bytes | None = None  # the server's refund signature (version 1)
        self._settlement: CTransaction | None = None  # the settlement the last CLOSE carried
        self._ack: PaymentAck | None = None  # the last PAYMENT_ACK
        self._contract_made: ChannelContract | None = None
        self._challenge: bytes | None = None  # the server's RESUME_CHALLENGE
        self._ch: ClientChannel | None
        if new:  # a client for a new channel (open() next), whatever the store holds
            self._ch = None
        elif deposit_txid is None:
            active = store.channels((ClientStatus.OPENING, ClientStatus.OPEN))
            self._ch = active[-1] if active else None
        else:
            self._ch = store.channel(deposit_txid)
            if self._ch is None:
                raise ChannelError(f"no channel {deposit_txid} in the store")

    # --- state -------------------------------------------------------------------------------

    @property
    def state(self) -> ClientState:
        """What this client's session expects next (:class:`ClientState`)."""
        return self._state

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

    def _require(self, *statuses: ClientStatus) -> ClientChannel:
        ch = self._ch
        if ch is None:
            raise ChannelError("no channel: open one first")
        if statuses and ch.status not in statuses:
            raise ChannelError(f"channel {ch.deposit_txid} is {ch.status.value}, not "
                               f"{' or '.join(s.value for s in statuses)}")
        return ch

    def _update(self, **fields: Any) -> ClientChannel:
        ch = self._require()
        self.store.update(ch.deposit_txid, **fields)
        self._ch = replace(ch, **fields)
        return self._ch

    def _contract(self, ch: ClientChannel) -> ChannelContract:
        """The channel's contract (made once per channel: its scripts take a while to build)."""
        made = self._contract_made
        if made is None or made.deposit_txid != ch.deposit_txid:
            made = self._contract_made = ch.contract
        return made

    def _key(self, ch: ClientChannel) -> PrivateKey:
        key = self.store.key(ch.client_key)
        if key is None:
            raise ChannelError(f"the key of channel {ch.deposit_txid} is not in the store")
        return key

    # --- messaging ---------------------------------------------------------------------------

    def receive(self, message: Message) -> ClientState:
        """One server message through :data:`CLIENT_TRANSITIONS`; the new state. A message absent
        from the current state's row raises ``ProtocolError("SYNTAX_ERROR")`` and changes nothing."""
        state = self._state
        transition = CLIENT_TRANSITIONS[state].get(type(message))
        if transition is None:
            raise ProtocolError("SYNTAX_ERROR", f"unexpected {message.TYPE} in state {state.value}"
                                f" (expected {_expected(state)})")
        handler, allowed = transition
        after = handler(self, message)
        assert after in allowed, (state, message.TYPE, after)
        self._state = after
        if self.on_transition is not None:
            self.on_transition(state, message, after)
        return after

    def _exchange(self, message: Message, awaiting: ClientState) -> None:
        """Send ``message`` with the session in state ``awaiting`` and take every reply through the
        table: an ERROR anywhere among them is raised first; a reply the table refuses, or replies
        that stop short of what ``awaiting`` expects, are answered with ERROR (SYNTAX_ERROR)."""
        self._state = awaiting
        try:
            replies = self.transport.exchange(message)
        except _LOST:
            self._state = ClientState.IDLE
            raise
        for r in replies:
            if isinstance(r, Error):
                self.receive(r)
        for r in replies:
            try:
                self.receive(r)
            except ProtocolError as e:
                if self._state is ClientState.IDLE:
                    raise  # a handler already told the server
                raise self._fail(e.code, e.detail) from None
        if self._state in _AWAITING:
            got = " ".join(r.TYPE for r in replies) or "nothing"
            raise self._fail("SYNTAX_ERROR", f"expected {_expected(self._state)}, got {got}")

    def _fail(self, code: str, detail: str, expected_value: int | None = None) -> ProtocolError:
        """Tell the server why the client gives up (best effort); the error to raise."""
        err = ProtocolError(code, detail)
        with contextlib.suppress(*_LOST):
            self.transport.exchange(error_message(err, expected_value))
        self._state = ClientState.IDLE
        return err

    # --- handlers (one per row of CLIENT_TRANSITIONS) ----------------------------------------

    def _on_error(self, m: Error) -> ClientState:
        self._state = ClientState.IDLE
        raise m.to_exception()

    def _on_version(self, m: ServerVersion) -> ClientState:
        cfg = self.config
        if m.major != cfg.version:
            raise self._fail("NO_ACCEPTABLE_VERSION", f"asked for version {cfg.version}, server chose {m.major}")
        return ClientState.AWAIT_INITIATE

    def _on_initiate(self, m: Initiate) -> ClientState:
        self._check_initiate(m, self._opening_value)
        self._initiate = m
        return ClientState.INITIATED

    def _on_return_refund(self, m: ReturnRefund) -> ClientState:
        self._refund_signature = m.signature
        return ClientState.INITIATED

    def _on_channel_open(self, m: ChannelOpen) -> ClientState:
        self._opened()
        return ClientState.OPEN

    def _on_close(self, m: Close) -> ClientState:
        self._settlement = self._settled(m)
        return ClientState.IDLE

    def _on_resume_version(self, m: ServerVersion) -> ClientState:
        ch = self._require()
        if m.major != ch.version:
            raise self._fail("NO_ACCEPTABLE_VERSION", f"channel is version {ch.version}, server chose {m.major}")
        return ClientState.AWAIT_RESUME

    def _on_challenge(self, m: ResumeChallenge) -> ClientState:
        self._challenge = m.challenge
        return ClientState.CHALLENGED

    def _on_forgotten(self, m: Initiate) -> ClientState:
        """INITIATE in answer to a resume: the server does not know the channel."""
        ch = self._require()
        self._fail("OTHER", f"expected to resume channel {ch.deposit_txid}")
        self._abandon_if_unbroadcast()
        if self._require().status != ClientStatus.ABANDONED:
            self._update(status=ClientStatus.ORPHANED)
        raise ChannelError(f"the server does not know channel {ch.deposit_txid}: "
                           f"it is {self._require().status.value}")

    def _on_ack(self, m: PaymentAck) -> ClientState:
        ch = self._require(ClientStatus.OPEN)
        assert ch.pending_change is not None and ch.pending_signature is not None
        # not waiting for the disk: lost in a crash, the payment is resent and acknowledged again
        self.store.record_ack(ch.deposit_txid, ch.pending_change, ch.pending_signature)
        self._ch = replace(ch, change=ch.pending_change, signature=ch.pending_signature,
                           pending_change=None, pending_signature=None)
        self._pending_info = None
        self._ack = m
        return ClientState.OPEN

    # --- open --------------------------------------------------------------------------------

    def open(self, value: int, info: bytes | None = None) -> ClientChannel:
        """Open a channel with a deposit of ``value`` sats; the server's minimum payment is paid at
        once (in PROVIDE_CONTRACT). Returns the open channel."""
        if self._ch is not None and self._ch.status in (ClientStatus.OPENING, ClientStatus.OPEN):
            raise ChannelError(f"channel {self._ch.deposit_txid} is still {self._ch.status.value}")
        if self.wallet is None:
            raise ChannelError("opening a channel needs a wallet to fund the deposit")
        wallet = self.wallet
        cfg = self.config
        self.transport.reconnect()
        self._opening_value, self._initiate, self._refund_signature = value, None, None
        self._exchange(ClientVersion(cfg.version, 0, None, cfg.time_window_secs), ClientState.AWAIT_VERSION)
        init = self._initiate
        assert init is not None
        key = self.key_factory()
        self.store.save_key(key, f"channel client key v{cfg.version}")
        contract = ChannelContract(cfg.version, key.pubkey, init.multisig_key, init.expire_time_secs, "00" * 32, 0,
                                   value, client_change_script(cfg.version, key.pubkey))
        prepared = wallet.prepare([(contract.deposit_spk, value)], feerate=cfg.feerate,
                                  kinds=("p2wpkh",) if cfg.version == 3 else None)
        try:
            contract = replace(contract, deposit_txid=prepared.txid)
            if prepared.vout_of(contract.deposit_spk) != 0:
                raise ChannelError("the wallet did not put the deposit at output 0")
            refund = contract.refund_tx(cfg.feerate)
            if cfg.version == 1:
                self._exchange(ProvideRefund(key.pubkey, refund.serialize()), ClientState.AWAIT_REFUND)
                assert self._refund_signature is not None
                try:
                    contract.check_refund_server(refund, self._refund_signature)
                except ProtocolError as e:
                    raise self._fail(e.code, e.detail) from None
                signed_refund = contract.complete_refund(key, refund, self._refund_signature)
            else:
                signed_refund = contract.complete_refund(key, refund)
            change = contract.round_change(value - init.min_payment)
            signature = contract.sign_payment(key, change)
            ch = ClientChannel(
                deposit_txid=prepared.txid, version=cfg.version, status=ClientStatus.OPENING,
                client_key=key.pubkey, server_key=init.multisig_key, expiry=init.expire_time_secs, deposit_vout=0,
                value=value, deposit_hex=prepared.tx.serialize(), client_spk=contract.client_spk,
                min_payment=init.min_payment, created_at=int(self.clock()), refund_hex=signed_refund.serialize(),
                change=value, pending_change=change, pending_signature=signature)
            self.store.add_channel(ch)  # the signed refund is held before the deposit leaves
        except BaseException:
            wallet.release(prepared)
            raise
        self._ch, self._prepared, self._pending_info = ch, prepared, info
        message = ProvideContract(prepared.tx.serialize(), UpdatePayment(change, signature, info),
                                  key.pubkey if cfg.version >= 2 else None)
        try:
            self._exchange(message, ClientState.AWAIT_OPEN)
        except ProtocolError:
            if self._require().status == ClientStatus.OPENING:
                self._abandon_if_unbroadcast()
            raise
        return self._require()

    def _check_initiate(self, init: Initiate, value: int) -> None:
        cfg = self.config
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

    def _opened(self) -> None:
        """CHANNEL_OPEN arrived: the deposit is out and the initial payment stored."""
        ch = self._require()
        if self._prepared is not None and self.wallet is not None:
            self.wallet.mark_sent(self._prepared)
            self._prepared = None
        if ch.status == ClientStatus.OPENING:
            self._update(status=ClientStatus.OPEN, change=ch.pending_change, signature=ch.pending_signature,
                         pending_change=None, pending_signature=None)

    def _abandon_if_unbroadcast(self) -> None:
        ch = self._require()
        if self.chain.get_tx(ch.deposit_txid) is None:
            if self._prepared is not None and self.wallet is not None:
                self.wallet.release(self._prepared)
                self._prepared = None
            self._update(status=ClientStatus.ABANDONED, pending_change=None, pending_signature=None)

    # --- resume ------------------------------------------------------------------------------

    def _handshake(self) -> None:
        """A new session that resumes this channel: CLIENT_VERSION with its deposit txid, then the
        server's challenge signed with the channel's client key (RESUME_PROOF)."""
        ch = self._require(ClientStatus.OPENING, ClientStatus.OPEN)
        self.transport.reconnect()
        self._challenge = None
        self._exchange(ClientVersion(ch.version, 0, bytes.fromhex(ch.deposit_txid), self.config.time_window_secs),
                       ClientState.AWAIT_RESUME_VERSION)
        if self._state is ClientState.CHALLENGED:
            assert self._challenge is not None
            proof = self._key(ch).sign(resume_digest(ch.deposit_txid, ch.server_key, self._challenge))
            self._exchange(ResumeProof(proof), ClientState.AWAIT_RESUMED)

    def resume(self) -> ClientChannel:
        """Reconnect to the server and take up this channel where it was: a payment sent but never
        acknowledged is resent (the server acknowledges it again if it had stored it)."""
        self._handshake()
        ch = self._require()
        if ch.status == ClientStatus.OPEN and ch.pending_change is not None:
            self._deliver_pending()
        return self._require()

    def _exchange_open(self, message: Message, awaiting: ClientState) -> None:
        """Send on the channel's session, reconnecting (and resuming) once if the connection drops."""
        for attempt in (0, 1):
            try:
                if self._state is not ClientState.OPEN:
                    self._handshake()
                self._require(ClientStatus.OPEN)
                self._exchange(message, awaiting)
                return
            except _LOST:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    # --- payments ----------------------------------------------------------------------------

    def pay(self, amount: int, info: bytes | None = None) -> PaymentResult:
        """Pay ``amount`` sats more (all that is left when the change would fall below dust).
        Returns once the server acknowledged (stored) it. One payment at a time."""
        with self._one_at_a_time():
            ch = self._require(ClientStatus.OPEN)
            if ch.pending_change is not None:
                self._deliver_pending()
                ch = self._require(ClientStatus.OPEN)
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                raise ValueError("amount must be a positive int of sats")
            if amount > ch.change:
                raise InsufficientFunds(amount, ch.change)
            contract = self._contract(ch)
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
        ch = self._require(ClientStatus.OPEN)
        assert ch.pending_change is not None and ch.pending_signature is not None
        before = ch.change
        self._ack, self._settlement = None, None
        self._exchange_open(UpdatePayment(ch.pending_change, ch.pending_signature, self._pending_info),
                            ClientState.AWAIT_ACK)
        ch = self._require()
        assert self._ack is not None
        return PaymentResult(before - ch.change, ch.change, ch.paid, self._ack.info, self._settlement)

    # --- close and refund --------------------------------------------------------------------

    def close(self) -> CTransaction:
        """Ask the server to settle; returns its settlement (checked to spend the deposit and pay
        this client its change)."""
        with self._one_at_a_time():
            ch = self._require(ClientStatus.OPEN)
            if ch.pending_change is not None:
                self._deliver_pending()
            self._settlement = None
            self._exchange_open(Close(), ClientState.AWAIT_CLOSE)
            assert self._settlement is not None
            return self._settlement

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
        fields: dict[str, Any] = {"status": ClientStatus.CLOSED, "settlement_txid": txid_of(tx),
                                  "pending_change": None, "pending_signature": None}
        if ch.pending_change is not None and paid_back == ch.pending_change:  # it settled the payment in flight
            fields.update(change=ch.pending_change, signature=ch.pending_signature)
        self._update(**fields)
        return tx

    def refund(self) -> str:
        """Broadcast the signed refund; its txid. The node refuses it (``NodeError``, "non-final")
        until the expiry: by height, or by median-time-past for a time expiry."""
        ch = self._require()
        txid = self.chain.broadcast(ch.refund_hex.hex())
        self._update(status=ClientStatus.REFUNDING, refund_txid=txid)
        return txid


_Handler = Callable[[PaymentChannelClient, Any], ClientState]
_C = ClientState
_P = PaymentChannelClient
_ERROR: dict[type[Message], tuple[_Handler, frozenset[ClientState]]] = {Error: (_P._on_error, frozenset({_C.IDLE}))}

#: The client's whole protocol: ``CLIENT_TRANSITIONS[state][server message type] -> (handler, next
#: states)``. The client sets the ``AWAIT_*`` state as it sends (CLIENT_VERSION, PROVIDE_REFUND,
#: PROVIDE_CONTRACT, UPDATE_PAYMENT, CLOSE, RESUME_PROOF); the server's replies then move it. ERROR in any awaited
#: state is raised and leaves the session IDLE; a CLOSE after CHANNEL_OPEN or PAYMENT_ACK (the
#: payment left no change) settles the channel. A message absent from a state's row is refused with
#: SYNTAX_ERROR before anything changes (the caller then tells the server and drops the session).
CLIENT_TRANSITIONS: dict[ClientState, dict[type[Message], tuple[_Handler, frozenset[ClientState]]]] = {
    _C.IDLE: {},
    _C.AWAIT_VERSION: {ServerVersion: (_P._on_version, frozenset({_C.AWAIT_INITIATE})), **_ERROR},
    _C.AWAIT_INITIATE: {Initiate: (_P._on_initiate, frozenset({_C.INITIATED})), **_ERROR},
    _C.INITIATED: {},
    _C.AWAIT_REFUND: {ReturnRefund: (_P._on_return_refund, frozenset({_C.INITIATED})), **_ERROR},
    _C.AWAIT_OPEN: {ChannelOpen: (_P._on_channel_open, frozenset({_C.OPEN})), **_ERROR},
    _C.AWAIT_RESUME_VERSION: {ServerVersion: (_P._on_resume_version, frozenset({_C.AWAIT_RESUME})), **_ERROR},
    _C.AWAIT_RESUME: {
        ResumeChallenge: (_P._on_challenge, frozenset({_C.CHALLENGED})),
        Initiate: (_P._on_forgotten, frozenset({_C.IDLE})),
        **_ERROR,
    },
    _C.CHALLENGED: {},
    _C.AWAIT_RESUMED: {
        ChannelOpen: (_P._on_channel_open, frozenset({_C.OPEN})),
        Close: (_P._on_close, frozenset({_C.IDLE})),
        **_ERROR,
    },
    _C.OPEN: {Close: (_P._on_close, frozenset({_C.IDLE}))},
    _C.AWAIT_ACK: {PaymentAck: (_P._on_ack, frozenset({_C.OPEN})), **_ERROR},
    _C.AWAIT_CLOSE: {Close: (_P._on_close, frozenset({_C.IDLE})), **_ERROR},
}


def _expected(state: ClientState) -> str:
    return " or ".join(t.TYPE for t in CLIENT_TRANSITIONS[state] if t is not Error) or "nothing"
