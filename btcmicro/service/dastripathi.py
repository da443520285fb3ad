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
==============================  =========================================================================

:class:`HTTPMerchant` is the payer's client.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from btcmicro.channels.dastripathi import AnyVoucher, Merchant, Offer, Receipt, decode_voucher
from btcmicro.core.errors import ProtocolError
from btcmicro.service.app import create_app
from btcmicro.service.client import ServiceClient
from btcmicro.wire.base64url import b64decode, b64encode

__all__ = ["create_dastripathi_app", "HTTPMerchant"]

_B64 = r"^[A-Za-z0-9_-]*$"
_STATUS = {"UNKNOWN_CHANNEL": 404, "VOUCHER_REUSED": 409, "ALREADY_OPEN": 409, "BLACKLISTED": 403,
           "EXPIRED": 410, "UNEXPECTED_EVENT": 409}


class OpenBody(BaseModel):
    open: str = Field(max_length=1024, pattern=_B64)


class PaymentBody(BaseModel):
    payment: str = Field(max_length=16384, pattern=_B64)


class CloseBody(BaseModel):
    escrow_id: str = Field(max_length=80, pattern=r"^[0-9a-f]{64}:[0-9]{1,10}$")


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
        return {"escrow_id": ch.escrow_id, "status": ch.status.value, "paid": ch.paid, "k": ch.k,
                "deposit": ch.terms.deposit, "penalty": ch.terms.penalty, "expiry": ch.terms.expiry,
                "close_txid": ch.close_txid}

    @app.post("/close")
    def close(body: CloseBody) -> dict[str, Any]:
        return {"txid": merchant.close(body.escrow_id)}

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

    def close(self) -> None:
        self._client.close()
