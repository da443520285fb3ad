"""The metered router: a payment-channel server whose payments buy bytes of traffic.

:class:`MeteredRouter` wraps a :class:`~btcmicro.channels.bitcoinj.PaymentChannelServer`: every
payment the server stores raises that channel's allotment in the :class:`Meter` and is answered
(in the PAYMENT_ACK's info) with the channel's usage. A client proves it holds the channel's key
(:meth:`grant`, a signature over a fresh challenge) and gets a token its proxy requests carry.
:meth:`tick` closes, on the best payment, every channel whose client ran out of funds, and stops
metering channels the server settled (on the client's CLOSE or at the lock-time margin).
"""
from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from btcmicro.channels.bitcoinj.metered.meter import Meter, Tariff, Usage
from btcmicro.channels.bitcoinj.server import CloseResult, PaymentChannelServer
from btcmicro.channels.bitcoinj.stores import ServerChannel, ServerStatus
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey, verify_der

__all__ = ["MeteredRouter", "RouterEvent", "grant_digest", "sign_grant", "GRANT_TAG"]

GRANT_TAG = b"btcmicro/metered/grant/v1"
_CHALLENGE_SECS = 60.0
_MAX_CHALLENGES = 10_000


def grant_digest(deposit_txid: str, challenge: str) -> bytes:
    """What the client's channel key signs to be granted traffic: tag, deposit txid, challenge."""
    return hashlib.sha256(GRANT_TAG + bytes.fromhex(deposit_txid) + bytes.fromhex(challenge)).digest()


def sign_grant(key: PrivateKey, deposit_txid: str, challenge: str) -> str:
    """The client's signature (DER hex) for :meth:`MeteredRouter.grant`."""
    return key.sign(grant_digest(deposit_txid, challenge)).hex()


@dataclass(frozen=True)
class RouterEvent:
    """``kind``: ``closed_out_of_funds``, ``close_failed``, ``settled`` (the server settled it)."""

    kind: str
    deposit_txid: str
    txid: str | None = None
    detail: str = ""


class MeteredRouter:
    """Meters ``server``'s channels at ``tariff`` (sets the server's ``on_payment`` hook)."""

    def __init__(self, server: PaymentChannelServer, tariff: Tariff, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if server.config.min_payment > tariff.increment_sats:
            raise ProtocolError("BAD_TARIFF", "the channel's minimum payment exceeds one increment")
        self.server = server
        self.tariff = tariff
        self.meter = Meter(tariff, clock)
        self.clock = clock
        self._lock = threading.Lock()
        self._challenges: dict[str, float] = {}
        self._tokens: dict[str, str] = {}  # token -> deposit txid
        server.on_payment = self._on_payment

    # --- payments --------------------------------------------------------------------------------

    def _on_payment(self, ch: ServerChannel, amount: int, info: bytes | None) -> bytes:
        """The PAYMENT_ACK's info: the channel's usage after the payment, and the prepaid bytes that
        were left when it arrived (``left_before_bytes``: how early the client paid)."""
        before = self.meter.usage(ch.deposit_txid)
        usage = self.meter.paid(ch.deposit_txid, ch.server_value, ch.payments)
        if usage is None:
            usage = self.meter.open(ch.deposit_txid, ch.value, ch.server_value, ch.payments)
        left_before = before.left_bytes if before is not None and amount else None
        return json.dumps({"amount": amount, "left_before_bytes": left_before, **usage.to_json()},
                          separators=(",", ":")).encode()

    # --- grants ----------------------------------------------------------------------------------

    def challenge(self) -> str:
        """A fresh challenge (hex) for :meth:`grant`, good for one minute and one use."""
        now = self.clock()
        with self._lock:
            if len(self._challenges) >= _MAX_CHALLENGES:
                self._challenges = {c: t for c, t in self._challenges.items() if now - t < _CHALLENGE_SECS}
                if len(self._challenges) >= _MAX_CHALLENGES:
                    raise ProtocolError("TOO_MANY_CHALLENGES", "retry in a minute")
            c = secrets.token_hex(16)
            self._challenges[c] = now
            return c

    def grant(self, deposit_txid: str, challenge: str, signature_hex: str) -> tuple[str, Usage]:
        """A token for the proxy, for the holder of the client key of an open channel."""
        with self._lock:
            issued = self._challenges.pop(challenge, None)
        if issued is None or self.clock() - issued > _CHALLENGE_SECS:
            raise ProtocolError("BAD_CHALLENGE", "unknown or expired challenge: ask for a new one")
        ch = self.server.channel(deposit_txid)
        if ch is None:
            raise ProtocolError("UNKNOWN_CHANNEL", f"no channel {deposit_txid}")
        if ch.status != ServerStatus.OPEN:
            raise ProtocolError("CHANNEL_CLOSED", f"channel {deposit_txid} is {ch.status.value}")
        try:
            ok = verify_der(ch.client_key, bytes.fromhex(signature_hex), grant_digest(deposit_txid, challenge))
        except ValueError:
            ok = False
        if not ok:
            raise ProtocolError("BAD_SIGNATURE", "not signed by the channel's client key")
        usage = self.meter.open(ch.deposit_txid, ch.value, ch.server_value, ch.payments)
        token = secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = deposit_txid
        return token, usage

    def channel_for(self, token: str) -> str | None:
        """The channel a proxy token was granted for."""
        with self._lock:
            return self._tokens.get(token)

    def usage(self, token: str) -> Usage:
        txid = self.channel_for(token)
        usage = self.meter.usage(txid) if txid is not None else None
        if usage is None:
            raise ProtocolError("UNKNOWN_TOKEN", "no such grant (the router restarted?): ask for a new one")
        return usage

    # --- closing ---------------------------------------------------------------------------------

    def close(self, deposit_txid: str) -> CloseResult:
        """Settle on the best payment and stop the channel's traffic."""
        self.meter.close(deposit_txid)
        return self.server.close_channel(deposit_txid)

    def tick(self) -> list[RouterEvent]:
        """Close channels whose client ran out of funds; stop metering channels no longer open, and
        forget them (and their grants) once the server has forgotten them (settlement deep enough)."""
        events: list[RouterEvent] = []
        for u in self.meter.channels():
            ch = self.server.channel(u.deposit_txid)
            if ch is None:
                self.meter.forget(u.deposit_txid)
                with self._lock:
                    self._tokens = {t: d for t, d in self._tokens.items() if d != u.deposit_txid}
                continue
            if not u.open:
                continue
            if ch.status != ServerStatus.OPEN:
                self.meter.close(u.deposit_txid)  # the channel's usage stays readable with its grant
                events.append(RouterEvent("settled", u.deposit_txid, ch.close_txid))
            elif self.meter.out_of_funds(u.deposit_txid):
                try:
                    res = self.close(u.deposit_txid)
                    events.append(RouterEvent("closed_out_of_funds", u.deposit_txid, res.txid,
                                              res.broadcast_error or ""))
                except ProtocolError as e:
                    events.append(RouterEvent("close_failed", u.deposit_txid, None, e.detail))
        return events

    # --- the operator's view ---------------------------------------------------------------------

    def operator_rows(self, height: int) -> list[dict[str, Any]]:
        """Every stored channel: usage, income, lock time and the margins left (blocks)."""
        margin = self.server.config.close_margin_blocks
        rows = []
        for ch in self.server.channels():
            u = self.meter.usage(ch.deposit_txid)
            by_height = ch.contract.expiry_is_height
            rows.append({
                "deposit_txid": ch.deposit_txid, "status": ch.status.value, "value": ch.value,
                "income": ch.server_value, "remaining": ch.best_change, "payments": ch.payments,
                "used_bytes": u.used_bytes if u else 0, "allotment_bytes": u.allotment_bytes if u else 0,
                "waiting": u.waiting if u else 0, "lock_time": ch.expiry,
                "lock_time_kind": "height" if by_height else "time",
                "blocks_to_lock_time": ch.expiry - height if by_height else None,
                "blocks_to_close_margin": ch.expiry - margin - height if by_height else None,
                "close_txid": ch.close_txid,
            })
        return rows
