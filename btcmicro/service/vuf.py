"""MICROPAY2-NI over HTTP: the merchant (its one fixed offer, tickets) and the VTS (claims, board).

Merchant endpoints (JSON; every error ``{"error": {"code", "detail"}}`` with a 4xx status):

==========================  ===================================================================
``GET  /offer``             the offer (VRF key, a_M, k, price, merchant id; base64url under ``offer``)
``POST /ticket`` ``{ticket}`` check a ticket (base64url) and record it: ``{"t", "won"}``; 409
                            ``T_REUSED`` for a t accepted before, ``ESCROW_CLAIMED`` for an
                            escrow this merchant holds a winner on
``GET  /wins``              the winning tickets and their claims' progress (operator token only: 401
                            without it)
==========================  ===================================================================

VTS endpoints:

==================================== ==========================================================
``GET  /pubkey``                     pk_T and the board's head
``POST /claim`` ``{"x": b64}``       check x (σ, σ1, the ECVRF proof, the win, t not signed for)
                                     and sign its claim once per escrow: the board entry with
                                     σ_T; 409 ``ALREADY_CLAIMED`` (the published claim under
                                     ``entry``) or ``T_REUSED``; 429 over a client's quota
``GET  /board?start=&stop=``         entries ``start <= seq < stop`` (at most 500 per call)
``GET  /board/head``                 number of entries and the last one's hash
``GET  /board/escrow/{txid}/{vout}`` the claim published for one escrow (404 if none)
==================================== ==========================================================

The merchant claims through :class:`~btcmicro.service.vts.HTTPVTS` built with this scheme's
checker (:func:`vuf_vts_client`). Every route parses strictly and calls the party; a malformed or
replayed message is a 4xx and changes nothing.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as FPath
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from btcmicro.core.errors import ProtocolError
from btcmicro.lottery.vts import AlreadyClaimed, BoardEntry
from btcmicro.lottery.vuf import CLAIMS, VTS, Merchant
from btcmicro.service.app import ClientQuota, client_id, create_app, error_response, new_operator_token, operator_only
from btcmicro.service.vts import HTTPVTS
from btcmicro.wire.base64url import b64decode

__all__ = ["create_vuf_merchant_app", "create_vuf_vts_app", "vuf_vts_client", "STATUS", "MAX_BOARD_RANGE"]

STATUS = {"ALREADY_CLAIMED": 409, "T_REUSED": 409, "ESCROW_CLAIMED": 409, "NOT_FOUND": 404,
          "TOO_MANY_CLAIMS": 429, "TOO_MANY_REQUESTS": 429}
"""HTTP statuses of the error codes other than 400."""
MAX_BOARD_RANGE = 500
_B64 = r"^[A-Za-z0-9_-]*$"


class TicketBody(BaseModel):
    ticket: str = Field(max_length=2048, pattern=_B64, description="the ticket, base64url")


class TicketAnswer(BaseModel):
    t: str
    won: bool


class ClaimBody(BaseModel):
    x: str = Field(max_length=4096, pattern=_B64, description="the claim x, base64url")


def create_vuf_merchant_app(merchant: Merchant, *, title: str = "btcmicro MICROPAY2-NI merchant",
                            operator_token: str | None = None) -> FastAPI:
    """The merchant's HTTP face: its offer and its ticket check. ``/wins`` (which tickets won, and their
    claims) answers only a request carrying ``operator_token`` (a fresh one when None:
    ``app.state.operator_token``)."""
    app = create_app(title, description=__doc__ or "", status_for_code=STATUS)
    app.state.operator_token = operator_token or new_operator_token()

    @app.get("/offer")
    def offer() -> dict[str, Any]:
        return merchant.offer.to_dict()

    @app.post("/ticket", response_model=TicketAnswer)
    def ticket(body: TicketBody) -> dict[str, Any]:
        acc = merchant.check(b64decode(body.ticket))
        return {"t": acc.t.hex(), "won": acc.won}

    @app.get("/wins", dependencies=[operator_only(app.state.operator_token)])
    def wins() -> dict[str, Any]:
        return {"wins": [{"t": w.t.hex(), "status": str(w.status), "claim_txid": w.claim_txid, "detail": w.detail}
                         for w in merchant.winners()]}

    return app


def _entry_view(e: BoardEntry[Any]) -> dict[str, Any]:
    return {**e.to_dict(), "sigma_t": e.sigma_t.hex()}


def create_vuf_vts_app(vts: VTS, *, title: str = "btcmicro MICROPAY2-NI VTS", max_new_claims: int = 60,
                       max_claim_requests: int = 600, quota_window: float = 60.0) -> FastAPI:
    """The VTS's HTTP face: claims and the board. Per client (address): at most ``max_new_claims`` new
    board entries and ``max_claim_requests`` claim requests per ``quota_window`` seconds (429 beyond,
    nothing written); the same x again is always answered."""
    app = create_app(title, description=__doc__ or "", status_for_code=STATUS)
    new_claims = ClientQuota(max_new_claims, quota_window)
    claim_requests = ClientQuota(max_claim_requests, quota_window)

    @app.exception_handler(AlreadyClaimed)
    async def _already(request: Request, exc: AlreadyClaimed) -> JSONResponse:
        return error_response(409, exc.code, exc.detail, entry=exc.entry.to_b64())

    @app.get("/pubkey")
    def pubkey() -> dict[str, Any]:
        n, head = vts.board.head()
        return {"pubkey": vts.pubkey.hex(), "entries": n, "head": head.hex()}

    @app.post("/claim")
    def claim(body: ClaimBody, request: Request) -> dict[str, Any]:
        who = client_id(request)
        if not claim_requests.take(who):
            raise ProtocolError("TOO_MANY_REQUESTS", f"over {max_claim_requests} claims per {quota_window:g} s "
                                f"from {who}; retry in {claim_requests.retry_after(who):.0f} s")
        x = vts.check(b64decode(body.x))  # decoded and checked: nothing written yet
        new = vts.is_new(x)
        if new and not new_claims.available(who):
            raise ProtocolError("TOO_MANY_CLAIMS", f"over {max_new_claims} new claims per {quota_window:g} s "
                                f"from {who}; retry in {new_claims.retry_after(who):.0f} s")
        entry = vts.claim(x)
        if new:
            new_claims.take(who)
        return _entry_view(entry)

    @app.get("/board/head")
    def head() -> dict[str, Any]:
        n, h = vts.board.head()
        return {"entries": n, "head": h.hex()}

    @app.get("/board")
    def board(start: int = Query(0, ge=0, le=2**62), stop: int | None = Query(None, ge=0, le=2**62)) -> dict[str, Any]:
        end = start + MAX_BOARD_RANGE if stop is None else min(stop, start + MAX_BOARD_RANGE)
        entries = vts.board.entries(start, end + 1)
        return {"start": start, "entries": [e.to_dict() for e in entries[:max(0, end - start)]],
                "more": len(entries) > end - start}

    @app.get("/board/escrow/{txid}/{vout}")
    def board_escrow(txid: str = FPath(pattern="^[0-9a-f]{64}$"), vout: int = FPath(ge=0, lt=2**32)) -> dict[str, Any]:
        entry = vts.board.entry_for(txid, vout)
        if entry is None:
            raise ProtocolError("NOT_FOUND", f"no claim published for {txid}:{vout}")
        return entry.to_dict()

    return app


def vuf_vts_client(base_url: str, pubkey: bytes | None = None, *, timeout: float = 30.0) -> HTTPVTS:
    """A MICROPAY2-NI VTS over HTTP, as a merchant claims through it (every entry and σ_T checked)."""
    return HTTPVTS(base_url, pubkey, timeout=timeout, checker=CLAIMS)
