"""Das–Tripathi over HTTP: the merchant B, or one of its points of sale B_i (Micropay 2).

Endpoints (JSON; binary messages as unpadded base64url; every error ``{"error": {"code",
"detail"}}`` with a 4xx status — never a 500 for anything a client sends):

==============================  =========================================================================
``GET  /offer``                 the Offer (pk_B, payout script, close fee, margin T_conf)
``POST /open``  ``{"open"}``    check the funded escrow on chain; the first voucher (b = 0)
``GET  /nonce``                 Micropay 2: a fresh nonce r for the payer's next assertion
``POST /pay``   ``{"payment"}`` one payment, checked in the paper's order; the Receipt (new voucher and
                                service). An exact replay gets the same receipt; a reused voucher 409
``GET  /channel/{escrow_id}``   the channel as this merchant holds it
``POST /close`` ``{"escrow_id"}`` the merchant broadcasts the best payment (points of sale cannot)
``POST /coins/open``            microcoins: ``{"escrow_id", "setup"}`` (a MicrocoinSetup) sets a coin chain up on
                                an open channel (the parameters must hash to the root its pk_2 commits)
``POST /coin``                  ``{"escrow_id", "coin"}``: one microcoin, verified and stored; what is owed
                                (index · unit); a new coin on a channel no longer open is 409 ``CHANNEL_CLOSED``.
                                A double-spent coin is 409 ``DOUBLE_SPEND``: the merchant has swept the
                                channel (d + p) with the payer's exposed key
==============================  =========================================================================

:class:`HTTPMerchant` is the payer's client.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from btcmicro.channels.dastripathi import (
    AnyVoucher,
    Merchant,
    MicrocoinReceiver,
    MicrocoinSetup,
    Offer,
    Receipt,
    decode_voucher,
)
from btcmicro.core.errors import ProtocolError
from btcmicro.service.app import create_app
from btcmicro.service.client import ServiceClient
from btcmicro.wire.base64url import b64decode, b64encode

__all__ = ["create_dastripathi_app", "HTTPMerchant"]

_B64 = r"^[A-Za-z0-9_-]*$"
_STATUS = {"UNKNOWN_CHANNEL": 404, "VOUCHER_REUSED": 409, "ALREADY_OPEN": 409, "BLACKLISTED": 403,
           "EXPIRED": 410, "UNEXPECTED_EVENT": 409, "NO_MICROCOINS": 404, "DOUBLE_SPEND": 409, "OUT_OF_ORDER": 409,
           "CHANNEL_CLOSED": 409}


class OpenBody(BaseModel):
    open: str = Field(max_length=1024, pattern=_B64)


class PaymentBody(BaseModel):
    payment: str = Field(max_length=16384, pattern=_B64)


_ESCROW_ID = r"^[0-9a-f]{64}:[0-9]{1,10}$"


class CloseBody(BaseModel):
    escrow_id: str = Field(max_length=80, pattern=_ESCROW_ID)


class CoinsOpenBody(BaseModel):
    escrow_id: str = Field(max_length=80, pattern=_ESCROW_ID)
    setup: str = Field(max_length=512, pattern=_B64)


class CoinBody(BaseModel):
    escrow_id: str = Field(max_length=80, pattern=_ESCROW_ID)
    coin: str = Field(max_length=256, pattern=_B64)


def _coins(r: MicrocoinReceiver) -> dict[str, Any]:
    return {"status": r.status.value, "index": r.index, "owed": r.owed, "n": r.params.n, "unit": r.params.unit}


def create_dastripathi_app(merchant: Merchant, *, title: str = "btcmicro Das-Tripathi merchant") -> FastAPI:
    """The HTTP face of one merchant or point of sale."""
    app = create_app(title, description=__doc__ or "", status_for_code=_STATUS)

    @app.get("/offer")
    def offer() -> dict[str, Any]:
        o = merchant.offer()
        return {"offer": o.to_b64(), "merchant_key": o.merchant_key.hex(), "payout_spk": o.merchant_spk.hex(),
                "fee": o.fee, "margin": o.margin, "points_of_sale": [k.hex() for k in merchant.pos_keys],
                "ring": [k.hex() for k in merchant.ring]}

    @app.post("/open")
    def open_channel(body: OpenBody) -> dict[str, Any]:
        return {"voucher": merchant.open(b64decode(body.open)).to_b64()}

    @app.get("/nonce")
    def nonce() -> dict[str, Any]:
        if not merchant.micropay2:
            raise ProtocolError("NOT_A_POINT_OF_SALE", "nonces are for Micropay 2 points of sale")
        return {"nonce": b64encode(merchant.nonce())}

    @app.post("/pay")
    def pay(body: PaymentBody) -> dict[str, Any]:
        r = merchant.pay(b64decode(body.payment))
        return {"receipt": r.to_b64(), "paid": r.voucher.paid, "k": r.voucher.k,
                "service": r.service.decode("utf-8", "replace")}

    @app.get("/channel/{escrow_id}")
    def channel(escrow_id: str) -> dict[str, Any]:
        ch = merchant.store.channel(escrow_id)
        if ch is None:
            raise ProtocolError("UNKNOWN_CHANNEL", f"no channel {escrow_id[:80]}")
        out: dict[str, Any] = {
            "escrow_id": ch.escrow_id, "status": ch.status.value, "paid": ch.paid, "k": ch.k,
            "deposit": ch.terms.deposit, "penalty": ch.terms.penalty, "expiry": ch.terms.expiry,
            "close_txid": ch.close_txid}
        if merchant.coins is not None and merchant.coins.chain_of(escrow_id) is not None:
            out["coins"] = _coins(merchant.coin_receiver(escrow_id))
        return out

    @app.post("/close")
    def close(body: CloseBody) -> dict[str, Any]:
        return {"txid": merchant.close(body.escrow_id)}

    @app.post("/coins/open")
    def coins_open(body: CoinsOpenBody) -> dict[str, Any]:
        return _coins(merchant.coins_open(body.escrow_id, b64decode(body.setup)))

    @app.post("/coin")
    def coin(body: CoinBody) -> dict[str, Any]:
        return _coins(merchant.coin(body.escrow_id, b64decode(body.coin)))

    return app


class HTTPMerchant:
    """A Das–Tripathi merchant or point of sale reached over HTTP (the payer's side)."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.url = base_url.rstrip("/")
        self._client = ServiceClient(self.url, timeout=timeout)

    def offer(self) -> Offer:
        return Offer.from_b64(self._client.get("/offer")["offer"])

    def open(self, data: bytes) -> AnyVoucher:
        answer = self._client.post("/open", {"open": b64encode(data)}, idempotent=True)
        return decode_voucher(b64decode(answer["voucher"]))

    def nonce(self) -> bytes:
        return b64decode(self._client.get("/nonce")["nonce"])

    def pay(self, data: bytes) -> Receipt:
        return Receipt.from_b64(self._client.post("/pay", {"payment": b64encode(data)}, idempotent=True)["receipt"])

    def channel(self, escrow_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._client.get(f"/channel/{escrow_id}")
        return result

    def coins_open(self, escrow_id: str, setup: MicrocoinSetup) -> dict[str, Any]:
        """Set microcoins up on the channel: ``{"status", "index", "owed", "n", "unit"}``."""
        result: dict[str, Any] = self._client.post("/coins/open", {"escrow_id": escrow_id, "setup": setup.to_b64()},
                                                   idempotent=True)
        return result

    def coin(self, escrow_id: str, coin: bytes) -> dict[str, Any]:
        """Send one microcoin: ``{"status", "index", "owed", ...}`` (an exact resend changes nothing)."""
        result: dict[str, Any] = self._client.post("/coin", {"escrow_id": escrow_id, "coin": b64encode(coin)},
                                                   idempotent=True)
        return result

    def close(self) -> None:
        self._client.close()
