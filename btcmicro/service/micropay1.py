"""MICROPAY1-sub over HTTP: the merchant's server, and the client a payer pays it with.

Endpoints (JSON; every error ``{"error": {"code", "detail"}}`` with a 4xx status):

=================================  ======================================================================
``GET  /info``                     the merchant's key and k (ρ = 2^-k)
``GET  /request``                  a fresh request (base64url under ``request``); per client at most
                                   ``max_requests`` per ``quota_window`` seconds (429 beyond: each one is
                                   stored until its ticket comes)
``POST /ticket`` ``{ticket}``      a ticket (base64url): the node judges tx₁ first; ``{"won": true}``, or
                                   ``{"won": false, "r1", "s"}`` (hex) that prove the loss to the payer;
                                   a replayed ticket is 409 ``UNEXPECTED_EVENT``
``POST /claim`` ``{request_id}``   operator: claim a win as the tx₁ + tx₂ package (``submitpackage``)
=================================  ======================================================================
"""
from __future__ import annotations

import threading
from typing import Any

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.micropay1 import Merchant, Payer
from btcmicro.lottery.micropay1 import Request as PaymentRequest
from btcmicro.lottery.micropay1 import Ticket as PaymentTicket
from btcmicro.lottery.micropay1.predicate import Outpoint
from btcmicro.service.app import ClientQuota, client_id, create_app, new_operator_token, operator_only
from btcmicro.service.client import ServiceClient
from btcmicro.wire.base64url import b64decode, b64encode

__all__ = ["create_micropay1_merchant_app", "Micropay1Client", "STATUS"]

STATUS = {
    "UNKNOWN_REQUEST": 404, "UNEXPECTED_EVENT": 409, "ESCROW_REUSED": 409, "TOO_MANY_REQUESTS": 429,
    "ESCROW_UNAVAILABLE": 422, "ESCROW_MISMATCH": 422, "TX1_REFUSED": 422, "BAD_TX1": 422, "BAD_DELAY": 422,
    "CLAIM_REFUSED": 422, "NO_TICKET": 409,
}
"""HTTP status of each MICROPAY1 error code (400 for the rest: malformed input)."""

_B64 = r"^[A-Za-z0-9_-]*$"


class TicketBody(BaseModel):
    ticket: str = Field(max_length=8192, pattern=_B64, description="the ticket, base64url")


class ClaimBody(BaseModel):
    request_id: str = Field(pattern="^[0-9a-f]{32}$", description="the winning request's id, hex")


def create_micropay1_merchant_app(merchant: Merchant, *, title: str = "btcmicro MICROPAY1-sub merchant",
                                  operator_token: str | None = None, max_requests: int = 600,
                                  quota_window: float = 60.0) -> FastAPI:
    """The merchant's HTTP face. ``/claim`` answers only ``operator_token`` (a fresh one when None:
    ``app.state.operator_token``)."""
    app = create_app(title, description=__doc__ or "", status_for_code=STATUS)
    app.state.operator_token = operator_token or new_operator_token()
    operator = operator_only(app.state.operator_token)
    requests = ClientQuota(max_requests, quota_window)
    lock = threading.Lock()  # accept reads, checks, then writes the request's state

    @app.get("/info")
    def info() -> dict[str, Any]:
        return {"pubkey": merchant.pubkey.hex(), "k": merchant.k, "min_delay": merchant.min_delay,
                "max_delay": merchant.max_delay}

    @app.get("/request")
    def request(http: Request) -> dict[str, Any]:
        who = client_id(http)
        if not requests.take(who):
            raise ProtocolError("TOO_MANY_REQUESTS", f"over {max_requests} requests per {quota_window:g} s from "
                                f"{who}; retry in {requests.retry_after(who):.0f} s")
        return {"request": merchant.request().to_b64()}

    @app.post("/ticket")
    def ticket(body: TicketBody) -> dict[str, Any]:
        t = PaymentTicket.decode(b64decode(body.ticket))
        with lock:
            acc = merchant.accept(t)
        if acc.won:
            return {"request_id": acc.request_id.hex(), "won": True}
        assert acc.r1 is not None and acc.s is not None
        return {"request_id": acc.request_id.hex(), "won": False, "r1": acc.r1.hex(), "s": acc.s.hex()}

    @app.post("/claim", dependencies=[operator])
    def claim(body: ClaimBody) -> dict[str, Any]:
        with lock:
            tx1, tx2 = merchant.claim(bytes.fromhex(body.request_id))
        return {"tx1": tx1, "tx2": tx2}

    return app


class Micropay1Client:
    """A payer's session with a MICROPAY1-sub merchant: a request, a ticket on ``escrow``, and on a loss
    the (r₁, s) that free the escrow, checked by :meth:`Payer.lost` before the payer reuses it."""

    def __init__(self, payer: Payer, base_url: str, *, timeout: float = 30.0) -> None:
        self.payer = payer
        self.http = ServiceClient(base_url, timeout=timeout)

    def pay(self, escrow: Outpoint) -> tuple[PaymentTicket, bool]:
        """One ticket on ``escrow``: (the ticket, won). A lost ticket's proof is checked and recorded, so
        the escrow backs the next ticket; a won ticket's escrow is the merchant's to claim."""
        req = PaymentRequest.decode(b64decode(self.http.get("/request")["request"]))
        t = self.payer.pay(req, escrow)
        answer = self.http.post("/ticket", {"ticket": b64encode(t.encode())})
        if answer.get("won") is True:
            return t, True
        try:
            r1, s = bytes.fromhex(answer["r1"]), bytes.fromhex(answer["s"])
        except (KeyError, TypeError, ValueError):
            raise ProtocolError("BAD_ANSWER", "a lost ticket's answer carries r1 and s, hex") from None
        self.payer.lost(escrow, r1, s, req)
        return t, False

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Micropay1Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
