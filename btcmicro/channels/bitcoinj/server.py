"""The payment-channel server: one object serving many channels over any transport.

A transport hands each client message to :meth:`PaymentChannelServer.receive` with the id of the
client's *session* (one connection; any string, a new id starts a new session) and sends back the
replies it returns. After CHANNEL_OPEN the session is bound to a channel, known from then on by its
deposit txid; a later session resumes it with ``CLIENT_VERSION(previous_channel_contract_hash=txid)``
and, to the server's ``RESUME_CHALLENGE``, a ``RESUME_PROOF`` signed with the channel's client key:
whoever lacks that key cannot take up (nor close) someone else's channel.

Every failure is answered with one ERROR message and ends the session (as bitcoinj closes the
connection); nothing a client sends makes :meth:`receive` raise, and a refused message changes no
stored state. The server stores a channel before it broadcasts the deposit, and a payment before
it returns the PAYMENT_ACK.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from bitcoin.core import b2lx

from btcmicro.channels.bitcoinj.config import ServerConfig, blocks_for, expiry_is_height
from btcmicro.channels.bitcoinj.contract import (
    REFUND_SEQUENCE,
    ChannelContract,
    client_change_script,
    decode_tx,
    txid_of,
)
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
    decode_message,
    error_message,
    resume_digest,
    with_expected_value,
)
from btcmicro.channels.bitcoinj.stores import ServerChannel, ServerStatus, ServerStore
from btcmicro.core.errors import NodeError, NodeUnavailable, PolicyError, ProtocolError
from btcmicro.core.keys import PrivateKey, is_valid_pubkey, verify_der
from btcmicro.ports import Chain, Clock
from btcmicro.script.standard import p2wpkh
from btcmicro.tx.policy import INCREMENTAL_RELAY_FEE, is_standard_script
from btcmicro.tx.size import fee_for

__all__ = ["PaymentChannelServer", "CloseResult", "PaymentHook", "SessionState", "SERVER_TRANSITIONS"]

log = logging.getLogger(__name__)

#: At most this many channels are remembered between payments (then the memory starts afresh).
_MAX_PAYING = 100_000

#: Called after a payment is stored: (channel after the payment, amount of this payment, the
#: client's info) -> the info of the PAYMENT_ACK.
PaymentHook = Callable[[ServerChannel, int, "bytes | None"], "bytes | None"]


class SessionState(str, Enum):
    """Where one client session stands on the server (held in memory, never stored)."""

    NEW = "new"  # expects CLIENT_VERSION
    WAIT_REFUND = "wait_refund"  # version 1: expects PROVIDE_REFUND
    WAIT_CONTRACT = "wait_contract"  # expects PROVIDE_CONTRACT
    OPEN = "open"  # bound to an open channel: payments and CLOSE
    DONE = "done"  # the channel is settled: CLOSE again returns the settlement
    ENDED = "ended"  # the client sent ERROR; the session is forgotten
    WAIT_PROOF = "wait_proof"  # a resume: expects RESUME_PROOF (the channel's client key)

    def __str__(self) -> str:
        return self.value


#: What a handler returns: the replies, and the state the session moves to.
Step = tuple[list[Message], SessionState]


@dataclass(frozen=True)
class CloseResult:
    """A settlement the server signed: the transaction, its fee, and the node's answer to the
    broadcast (``broadcast_error`` None when accepted or already known)."""

    deposit_txid: str
    txid: str
    tx: bytes
    fee: int
    feerate: int
    broadcast_error: str | None = None


@dataclass
class _Paying:
    """A paying channel as this server last stored it (held under the channel's lock): the record as
    read (its other fields do not change while it is open), its contract, and its best payment."""

    channel: ServerChannel
    contract: ChannelContract
    best_change: int
    best_signature: bytes
    payments: int


@dataclass
class _Session:
    id: str
    state: SessionState = SessionState.NEW
    version: int = 0
    key: PrivateKey | None = None
    expiry: int = 0
    client_key: bytes | None = None
    client_spk: bytes | None = None
    refund_spends: str | None = None
    channel: str | None = None
    resuming: str | None = None  # the channel a resume asks for, until its proof arrives
    challenge: bytes | None = None
    last_seen: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class PaymentChannelServer:
    """Serves payment channels (versions 1, 2 and 3) to many clients at once; thread-safe.

    ``chain`` judges and carries transactions, ``store`` persists channels (and their keys,
    encrypted), ``config`` holds the terms. ``clock`` (UNIX seconds) and ``key_factory`` (a fresh
    channel key) are injectable for tests. ``payout_spk`` is where settlements pay the server
    (default: P2WPKH of each channel's server key). ``on_payment`` answers each stored payment with
    the PAYMENT_ACK's info (e.g. usage and remaining funds).
    """

    def __init__(self, chain: Chain, store: ServerStore, *, config: ServerConfig | None = None,
                 clock: Clock = time.time,
                 key_factory: Callable[[], PrivateKey] = PrivateKey.generate,
                 payout_spk: bytes | None = None, on_payment: PaymentHook | None = None) -> None:
        self.chain = chain
        self.store = store
        self.config = config or ServerConfig()
        self.clock = clock
        self.key_factory = key_factory
        self.payout_spk = payout_spk
        self.on_payment = on_payment
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._channel_locks: dict[str, threading.RLock] = {}
        # The open channels payments went to, as last stored by this server (read under the
        # channel's lock). Only a hint: record_payment's compare-and-set judges every payment
        # against the store, and a failed one drops the entry.
        self._paying: dict[str, _Paying] = {}

    # --- sessions ----------------------------------------------------------------------------

    def new_session(self) -> str:
        """A fresh session id (any unused string works as well)."""
        return secrets.token_hex(16)

    def end_session(self, session_id: str) -> None:
        """Forget a session (the client disconnected); its channel stays stored."""
        with self._lock:
            self._sessions.pop(session_id, None)

    def prune_sessions(self, max_idle_secs: float) -> int:
        """Forget sessions idle for longer than ``max_idle_secs``; how many."""
        cutoff = self.clock() - max_idle_secs
        with self._lock:
            old = [sid for sid, s in self._sessions.items() if s.last_seen < cutoff]
            for sid in old:
                del self._sessions[sid]
        return len(old)

    def session_channel(self, session_id: str) -> str | None:
        """The deposit txid of the channel a session is bound to."""
        with self._lock:
            s = self._sessions.get(session_id)
            return s.channel if s else None

    def session_state(self, session_id: str) -> SessionState | None:
        """The state of a live session (None when the server holds no such session)."""
        with self._lock:
            s = self._sessions.get(session_id)
            return s.state if s else None

    def _session(self, session_id: str) -> _Session:
        with self._lock:
            s = self._sessions.get(session_id)
            if s is None:
                s = self._sessions[session_id] = _Session(session_id)
            s.last_seen = self.clock()
            return s

    def _channel_lock(self, deposit_txid: str) -> threading.RLock:
        with self._lock:
            return self._channel_locks.setdefault(deposit_txid, threading.RLock())

    # --- messages ----------------------------------------------------------------------------

    def receive_wire(self, session_id: str, data: bytes | str) -> list[Message]:
        """:meth:`receive` for a message still in its JSON wire form."""
        try:
            message = decode_message(data)
        except ProtocolError as e:
            self.end_session(session_id)
            return [error_message(e)]
        return self.receive(session_id, message)

    def handle(self, session_id: str, message: Message) -> list[Message]:
        """The replies to one client message through :data:`SERVER_TRANSITIONS`. A message the
        session's state does not accept raises ``ProtocolError`` and changes nothing (neither the
        session nor the store), as does a refused one; :meth:`receive` turns it into ERROR."""
        session = self._session(session_id)
        with session.lock:
            return self._dispatch(session, message)

    def receive(self, session_id: str, message: Message) -> list[Message]:
        """The replies to one client message on session ``session_id`` (never raises): every
        failure is answered with one ERROR and ends the session."""
        session = self._session(session_id)
        with session.lock:
            try:
                return self._dispatch(session, message)
            except ProtocolError as e:
                error = error_message(e)
            except NodeError as e:  # the node failed or is unreachable
                error = Error("OTHER", f"node error: {e.message}"[:1024])
            except Exception:  # a bug must not kill the transport; the session ends
                log.exception("channel server: unexpected failure on %s", type(message).__name__)
                error = Error("OTHER", "internal server error")
        log.info("channel session %s ends: %s %s", session_id, error.code, error.explanation)
        self.end_session(session_id)
        return [error]

    def _dispatch(self, s: _Session, m: Message) -> list[Message]:
        """One message through :data:`SERVER_TRANSITIONS`; a message absent from the session's row
        raises ``ProtocolError("SYNTAX_ERROR")`` before anything changes."""
        transition = SERVER_TRANSITIONS[s.state].get(type(m))
        if transition is None:
            early = s.state in (SessionState.NEW, SessionState.WAIT_REFUND, SessionState.WAIT_CONTRACT,
                                SessionState.WAIT_PROOF)
            where = "before CHANNEL_OPEN" if early else f"in state {s.state.value}"
            raise ProtocolError("SYNTAX_ERROR", f"unexpected {m.TYPE} {where}")
        handler, allowed = transition
        replies, state = handler(self, s, m)
        assert state in allowed, (s.state, m.TYPE, state)
        s.state = state
        return replies

    def _client_error(self, s: _Session, m: Error) -> Step:
        log.info("client error on session %s: %s %s", s.id, m.code, m.explanation)
        self.end_session(s.id)
        return [], SessionState.ENDED

    def _close(self, s: _Session, m: Close) -> Step:
        assert s.channel is not None
        if m.tx is not None:
            raise ProtocolError("SYNTAX_ERROR", "a client's CLOSE carries no transaction")
        res = self.close_channel(s.channel)
        return [Close(res.tx)], SessionState.DONE

    def _client_version(self, s: _Session, m: ClientVersion) -> Step:
        cfg = self.config
        if m.major not in cfg.versions:
            raise ProtocolError("NO_ACCEPTABLE_VERSION",
                                f"version {m.major} not served; this server speaks {list(cfg.versions)}")
        replies: list[Message] = [ServerVersion(m.major, 0)]
        if m.previous_channel_contract_hash is not None:
            self._paying.pop(m.previous_channel_contract_hash.hex(), None)  # a resume reads the store afresh
            ch = self.store.channel(m.previous_channel_contract_hash.hex())
            resumable = ch is not None and (ch.status == ServerStatus.OPEN or ch.close_hex is not None)
            if ch is not None and resumable and ch.version == m.major:
                # the client proves the channel's key before the session may use the channel
                s.version, s.resuming, s.challenge = ch.version, ch.deposit_txid, secrets.token_bytes(32)
                return replies + [ResumeChallenge(s.challenge)], SessionState.WAIT_PROOF
            # unknown, refunded or spent: a new channel
        if not cfg.min_time_window_secs <= m.time_window_secs <= cfg.max_time_window_secs:
            too_short = m.time_window_secs < cfg.min_time_window_secs
            bound = cfg.min_time_window_secs if too_short else cfg.max_time_window_secs
            raise with_expected_value(ProtocolError(
                "TIME_WINDOW_UNACCEPTABLE", f"time window {m.time_window_secs} s outside "
                f"{cfg.min_time_window_secs}..{cfg.max_time_window_secs} s"), bound)
        if expiry_is_height(m.major, cfg.expiry_by_height):
            expiry = self.chain.height() + blocks_for(m.time_window_secs, cfg.block_interval_secs)
        else:
            expiry = int(self.clock()) + m.time_window_secs
        s.version, s.expiry, s.key = m.major, expiry, self.key_factory()
        state = SessionState.WAIT_REFUND if m.major == 1 else SessionState.WAIT_CONTRACT
        return replies + [Initiate(s.key.pubkey, cfg.min_channel_size, expiry, cfg.min_payment)], state

    def _resume_proof(self, s: _Session, m: ResumeProof) -> Step:
        """The client's signature of the challenge with the channel's client key: the session takes
        the channel up (open: CHANNEL_OPEN; settled: CLOSE with the settlement). A signature by
        any other key is refused (OTHER) and changes nothing stored."""
        assert s.resuming is not None and s.challenge is not None
        ch = self.store.channel(s.resuming)
        if ch is None:
            raise ProtocolError("OTHER", f"channel {s.resuming} is no longer stored")
        if not verify_der(ch.client_key, m.signature, resume_digest(ch.deposit_txid, ch.server_key, s.challenge)):
            raise ProtocolError("OTHER", f"the resume proof for channel {ch.deposit_txid} is not a signature by its "
                                "client key: only the channel's client may resume or close it")
        s.challenge = None
        if ch.status == ServerStatus.OPEN:
            s.channel = ch.deposit_txid
            return [ChannelOpen()], SessionState.OPEN
        if ch.close_hex is not None:
            s.channel = ch.deposit_txid
            return [Close(ch.close_hex)], SessionState.DONE
        raise ProtocolError("OTHER", f"channel {ch.deposit_txid} is {ch.status}")

    def _provide_refund(self, s: _Session, m: ProvideRefund) -> Step:
        assert s.key is not None
        if not is_valid_pubkey(m.multisig_key) or m.multisig_key == s.key.pubkey:
            raise ProtocolError("BAD_TRANSACTION", "client multisig_key is not a valid, distinct public key")
        refund = decode_tx(m.tx, "refund")
        txin = refund.vin[0]
        problems = [
            (len(refund.vin) != 1, "must have exactly one input"),
            (txin.prevout.n != 0, "must spend output 0 of the deposit"),
            (len(txin.scriptSig) != 0, "must be unsigned"),
            (txin.nSequence != REFUND_SEQUENCE, f"input sequence must be {REFUND_SEQUENCE:#x}"),
            (refund.nLockTime != s.expiry, f"nLockTime {refund.nLockTime} is not the expiry {s.expiry}"),
            (len(refund.vout) != 1, "must have exactly one output"),
            (not is_standard_script(bytes(refund.vout[0].scriptPubKey))[0], "output is not standard"),
        ]
        for bad, what in problems:
            if bad:
                raise ProtocolError("BAD_TRANSACTION", f"refund {what}")
        client_spk = bytes(refund.vout[0].scriptPubKey)
        deposit_txid = b2lx(txin.prevout.hash)
        contract = ChannelContract(1, m.multisig_key, s.key.pubkey, s.expiry, deposit_txid, 0, 0, client_spk)
        signature = contract.sign_refund_server(s.key, refund)
        s.client_key, s.client_spk, s.refund_spends = m.multisig_key, client_spk, deposit_txid
        return [ReturnRefund(signature)], SessionState.WAIT_CONTRACT

    def _provide_contract(self, s: _Session, m: ProvideContract) -> Step:
        assert s.key is not None
        cfg = self.config
        deposit = decode_tx(m.tx, "deposit")
        txid = txid_of(deposit)
        if s.version == 1:
            if txid != s.refund_spends:
                raise ProtocolError("BAD_TRANSACTION", "deposit is not the one the signed refund spends")
            if m.client_key is not None and m.client_key != s.client_key:
                raise ProtocolError("BAD_TRANSACTION", "client_key differs from the refund's multisig_key")
            client_key, client_spk = s.client_key, s.client_spk
        else:
            if m.client_key is None:
                raise ProtocolError("SYNTAX_ERROR", f"version {s.version} PROVIDE_CONTRACT needs client_key")
            if not is_valid_pubkey(m.client_key) or m.client_key == s.key.pubkey:
                raise ProtocolError("BAD_TRANSACTION", "client_key is not a valid, distinct public key")
            client_key, client_spk = m.client_key, client_change_script(s.version, m.client_key)
        assert client_key is not None and client_spk is not None
        if s.version == 3 and any(len(i.scriptSig) for i in deposit.vin):
            raise ProtocolError("BAD_TRANSACTION",
                                "a version 3 deposit spends only native segwit inputs (empty scriptSigs)")
        value = deposit.vout[0].nValue
        contract = ChannelContract(s.version, client_key, s.key.pubkey, s.expiry, txid, 0, value, client_spk)
        if bytes(deposit.vout[0].scriptPubKey) != contract.deposit_spk:
            raise ProtocolError("BAD_TRANSACTION", "deposit output 0 does not pay the channel script")
        if value < cfg.min_channel_size:
            raise with_expected_value(ProtocolError(
                "BAD_TRANSACTION", f"deposit of {value} sats below the minimum {cfg.min_channel_size}"),
                cfg.min_channel_size)
        pay = m.initial_payment
        if value - pay.client_change_value < cfg.min_payment and pay.client_change_value >= 0:
            raise with_expected_value(ProtocolError(
                "BAD_TRANSACTION", f"initial payment of {value - pay.client_change_value} sats below the minimum "
                f"{cfg.min_payment}"), cfg.min_payment)
        contract.check_payment(pay.client_change_value, pay.signature)
        with self._channel_lock(txid):
            existing = self.store.channel(txid)
            if existing is not None:
                if existing.client_key == client_key and existing.status == ServerStatus.OPEN:
                    s.channel = txid  # a retried PROVIDE_CONTRACT: already open
                    return [ChannelOpen()], SessionState.OPEN
                raise ProtocolError("BAD_TRANSACTION", "this deposit already funds a channel")
            if self.chain.get_tx(txid) is None:
                reason = self.chain.test_accept(m.tx.hex())
                if reason is not None:
                    raise ProtocolError("BAD_TRANSACTION", f"the node refuses the deposit: {reason}")
            elif self.chain.get_utxo(txid, 0) is None:
                raise ProtocolError("BAD_TRANSACTION", "the deposit output is already spent")
            channel = ServerChannel(
                deposit_txid=txid, version=s.version, status=ServerStatus.OPEN, client_key=client_key,
                server_key=s.key.pubkey, expiry=s.expiry, deposit_vout=0, value=value, deposit_hex=m.tx,
                client_spk=client_spk, min_payment=cfg.min_payment, created_at=int(self.clock()),
                server_spk=self.payout_spk or bytes(p2wpkh(s.key.pubkey)),
                best_change=pay.client_change_value, best_signature=pay.signature)
            self.store.save_key(s.key, f"channel server key v{s.version}")
            self.store.add_channel(channel)  # stored before anything is broadcast
            try:
                self.chain.broadcast(m.tx.hex())
            except NodeUnavailable:
                raise  # maybe sent: keep the channel, the client resumes or refunds
            except NodeError as e:
                self.store.remove(txid)
                raise ProtocolError("BAD_TRANSACTION", f"the node refuses the deposit: {e.message}") from None
        s.channel = txid
        if pay.client_change_value == 0:
            return [ChannelOpen(), Close(self.close_channel(txid).tx)], SessionState.DONE
        return [ChannelOpen()], SessionState.OPEN

    def _update_payment(self, s: _Session, m: UpdatePayment) -> Step:
        assert s.channel is not None
        with self._channel_lock(s.channel):
            p = self._paying.get(s.channel)
            if p is None:
                ch = self.store.channel(s.channel)
                if ch is None or ch.status != ServerStatus.OPEN:
                    raise ProtocolError("OTHER", f"channel {s.channel} is {'unknown' if ch is None else ch.status}")
                p = _Paying(ch, ch.contract, ch.best_change, ch.best_signature, ch.payments)
            change = m.client_change_value
            if change == p.best_change and m.signature == p.best_signature:
                return [PaymentAck(self._paid_info(p, 0, m.info))], SessionState.OPEN  # resent: already stored
            if 0 <= change <= p.channel.value and change >= p.best_change:
                raise ProtocolError("BAD_TRANSACTION",
                                    f"payment would not increase the server's value: change {change} >= "
                                    f"current {p.best_change} (replayed or rolled back)")
            p.contract.check_payment(change, m.signature)
            txid = p.channel.deposit_txid
            if not self.store.record_payment(txid, p.best_change, change, m.signature):
                self._paying.pop(txid, None)  # closed, forgotten or paid elsewhere: read it again
                now = self.store.channel(txid)
                if now is None or now.status != ServerStatus.OPEN:
                    raise ProtocolError("OTHER", f"channel {txid} is {'unknown' if now is None else now.status}")
                raise ProtocolError("OTHER", "the channel changed concurrently; resend")
            amount = p.best_change - change
            p.best_change, p.best_signature, p.payments = change, m.signature, p.payments + 1
            if change == 0:
                self._paying.pop(txid, None)
                ack = PaymentAck(self._paid_info(p, amount, m.info))
                return [ack, Close(self.close_channel(txid).tx)], SessionState.DONE
            if len(self._paying) >= _MAX_PAYING:
                self._paying.clear()
            self._paying[txid] = p
            return [PaymentAck(self._paid_info(p, amount, m.info))], SessionState.OPEN

    def _paid_info(self, p: _Paying, amount: int, info: bytes | None) -> bytes | None:
        """The PAYMENT_ACK's info from the hook (the channel record is built only for it)."""
        if self.on_payment is None:
            return None
        return self._ack_info(replace(p.channel, best_change=p.best_change, best_signature=p.best_signature,
                                      payments=p.payments), amount, info)

    def _ack_info(self, ch: ServerChannel, amount: int, info: bytes | None) -> bytes | None:
        if self.on_payment is None:
            return None
        try:
            return self.on_payment(ch, amount, info)
        except Exception:
            log.exception("channel server: on_payment hook failed")
            return None

    # --- settlement --------------------------------------------------------------------------

    def channel(self, deposit_txid: str) -> ServerChannel | None:
        """The stored channel funded by ``deposit_txid``."""
        return self.store.channel(deposit_txid)

    def channels(self) -> list[ServerChannel]:
        """Every stored channel, oldest first."""
        return self.store.channels()

    def close_channel(self, deposit_txid: str, *, feerate: int | None = None) -> CloseResult:
        """Settle a channel on its best payment: the server's output takes the rest less the fee
        (``config.close_feerate``), signed ALL, stored, then broadcast. Closing a channel already
        closing re-broadcasts its settlement; ``feerate`` above the current one fee-bumps it (as
        :meth:`bump_close`). Raises KeyError for an unknown channel, ProtocolError("OTHER") when
        the server's value cannot pay the fee."""
        with self._channel_lock(deposit_txid):
            self._paying.pop(deposit_txid, None)
            ch = self.store.channel(deposit_txid)
            if ch is None:
                raise KeyError(f"no channel {deposit_txid}")
            if ch.close_hex is not None and ch.close_txid is not None and ch.close_fee is not None:
                if feerate is None or feerate <= (ch.close_feerate or 0):
                    return self._broadcast_close(ch, ch.close_txid, ch.close_hex, ch.close_fee, ch.close_feerate or 0)
            elif ch.status != ServerStatus.OPEN:
                raise ProtocolError("OTHER", f"channel {deposit_txid} is {ch.status}")
            return self._sign_close(ch, feerate or self.config.close_feerate)

    def bump_close(self, deposit_txid: str, feerate: int) -> CloseResult:
        """Replace a channel's settlement with one paying ``feerate`` (sat/kvB), re-signed from the
        client's SINGLE|ANYONECANPAY signature; the new fee must beat the old by Core's
        incremental relay fee. PolicyError if it does not."""
        with self._channel_lock(deposit_txid):
            self._paying.pop(deposit_txid, None)
            ch = self.store.channel(deposit_txid)
            if ch is None or ch.close_fee is None:
                raise KeyError(f"no settlement to bump for {deposit_txid}")
            return self._sign_close(ch, feerate, min_fee=ch.close_fee)

    def _sign_close(self, ch: ServerChannel, feerate: int, min_fee: int | None = None) -> CloseResult:
        key = self.store.key(ch.server_key)
        if key is None:
            raise ProtocolError("OTHER", f"server key of channel {ch.deposit_txid} is missing")
        try:
            built = ch.contract.close_tx(ch.best_change, ch.best_signature, key, ch.server_spk, feerate)
        except PolicyError as e:
            raise ProtocolError("OTHER", f"cannot settle: {e}") from None
        if min_fee is not None:
            need = min_fee + fee_for(built.estimated_vsize, INCREMENTAL_RELAY_FEE)
            if built.fee < need:
                raise PolicyError(f"a replacement must pay at least {need} sats, {feerate} sat/kvB pays {built.fee}")
        raw = built.tx.serialize()
        close_txid = b2lx(built.tx.GetTxid())
        self.store.add_close(ch.deposit_txid, close_txid, raw, built.fee, feerate)
        self.store.update(ch.deposit_txid, status=ServerStatus.CLOSING, close_txid=close_txid, close_hex=raw,
                          close_fee=built.fee, close_feerate=feerate, close_height=None)
        return self._broadcast_close(ch, close_txid, raw, built.fee, feerate)

    def _broadcast_close(self, ch: ServerChannel, close_txid: str, raw: bytes, fee: int, feerate: int) -> CloseResult:
        error = None
        try:
            self.chain.broadcast(raw.hex())
        except NodeError as e:
            log.warning("settlement %s of channel %s not broadcast: %s", close_txid, ch.deposit_txid, e.message)
            error = e.message
        return CloseResult(ch.deposit_txid, close_txid, raw, fee, feerate, error)


_Handler = Callable[[PaymentChannelServer, _Session, Any], Step]
_S = SessionState

#: The server's whole protocol: ``SERVER_TRANSITIONS[state][message type] -> (handler, next states)``.
#: The handler chooses among the next states by the message's content (CLIENT_VERSION: version 1
#: waits for the refund, 2 and 3 for the contract, a resume for the proof of the client key;
#: RESUME_PROOF: the resumed channel is open or done; a payment
#: leaving no change settles the channel). A message absent from a state's row is refused with
#: SYNTAX_ERROR before anything changes (the session then ends, as every failure ends it).
SERVER_TRANSITIONS: dict[SessionState, dict[type[Message], tuple[_Handler, frozenset[SessionState]]]] = {
    _S.NEW: {
        ClientVersion: (PaymentChannelServer._client_version,
                        frozenset({_S.WAIT_REFUND, _S.WAIT_CONTRACT, _S.WAIT_PROOF})),
        Error: (PaymentChannelServer._client_error, frozenset({_S.ENDED})),
    },
    _S.WAIT_PROOF: {
        ResumeProof: (PaymentChannelServer._resume_proof, frozenset({_S.OPEN, _S.DONE})),
        Error: (PaymentChannelServer._client_error, frozenset({_S.ENDED})),
    },
    _S.WAIT_REFUND: {
        ProvideRefund: (PaymentChannelServer._provide_refund, frozenset({_S.WAIT_CONTRACT})),
        Error: (PaymentChannelServer._client_error, frozenset({_S.ENDED})),
    },
    _S.WAIT_CONTRACT: {
        ProvideContract: (PaymentChannelServer._provide_contract, frozenset({_S.OPEN, _S.DONE})),
        Error: (PaymentChannelServer._client_error, frozenset({_S.ENDED})),
    },
    _S.OPEN: {
        UpdatePayment: (PaymentChannelServer._update_payment, frozenset({_S.OPEN, _S.DONE})),
        Close: (PaymentChannelServer._close, frozenset({_S.DONE})),
        Error: (PaymentChannelServer._client_error, frozenset({_S.ENDED})),
    },
    _S.DONE: {
        Close: (PaymentChannelServer._close, frozenset({_S.DONE})),
        Error: (PaymentChannelServer._client_error, frozenset({_S.ENDED})),
    },
    _S.ENDED: {},
}
