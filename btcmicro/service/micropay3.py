"""MICROPAY3 over HTTP: the VTS T (invoked only on deviation) and the merchant's page sale.

VTS endpoints (JSON; every error ``{"error": {"code", "detail"}}`` with a 4xx status, never a 500):

====================================  ========================================================
``GET  /pubkey``                      pk_T, the window W, the board's and the receipt log's heads
``POST /resolve/abort``  ``{"x"}``    Resolve Aborted Prize: the published release and the
                                      receipt; 409 ``ALREADY_CLAIMED`` with ``entry`` (and
                                      ``receipt`` for a valid claim) when escrow 2 went otherwise
``POST /resolve/orphan`` ``{"request"}`` Resolve Orphaned Transaction: the published refund
``GET  /board?start=&stop=``          release entries (at most 500)
``GET  /receipts?start=&stop=``       the receipt log (at most 500)
====================================  ========================================================

Merchant endpoints: ``GET /ask`` (a payment request), ``POST /buy`` ``{"ticket"}`` (the page, and
whether the ticket won), ``GET /info``. Winners are released by the merchant's own policy
(``btcmicro micropay3 claim``), not by the web server.

:class:`HTTPMicropay3VTS` is the client (a :class:`~btcmicro.lottery.micropay3.Micropay3VTSClient`):
it believes nothing it is sent — every entry and receipt must be signed by the pk_T it expects.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from btcmicro.core.errors import ProtocolError, ServiceUnavailable
from btcmicro.lottery.micropay3 import (
    CLAIMS,
    Merchant,
    Micropay3VTS,
    OrphanRequest,
    Prize,
    PrizeRefused,
    Receipt,
    Release,
)
from btcmicro.lottery.vts import AlreadyClaimed, BoardEntry
from btcmicro.service.app import create_app, error_response
from btcmicro.service.client import ServiceClient
from btcmicro.wire.base64url import b64decode, b64encode

__all__ = ["create_micropay3_vts_app", "create_micropay3_merchant_app", "HTTPMicropay3VTS", "MAX_RANGE"]

MAX_RANGE = 500
_B64 = r"^[A-Za-z0-9_-]*$"
_STATUS = {"ALREADY_CLAIMED": 409}


class XBody(BaseModel):
    x: str = Field(max_length=8192, pattern=_B64)


class OrphanBody(BaseModel):
    request: str = Field(max_length=4096, pattern=_B64)


class TicketBody(BaseModel):
    ticket: str = Field(max_length=4096, pattern=_B64)


def _extra(e: ProtocolError, key: str) -> Any:
    """A member of the error body besides code and detail (``e.extra``, or an attribute on older clients)."""
    extra = getattr(e, "extra", None)
    if isinstance(extra, dict) and key in extra:
        return extra[key]
    return getattr(e, key, None)


def _entry_view(e: BoardEntry[Any]) -> dict[str, Any]:
    return {**e.to_dict(), "sigma_t": e.sigma_t.hex()}


def create_micropay3_vts_app(vts: Micropay3VTS, *, title: str = "btcmicro MICROPAY3 VTS") -> FastAPI:
    """The HTTP face of one MICROPAY3 VTS."""
    app = create_app(title, description=__doc__ or "", status_for_code=_STATUS)

    @app.exception_handler(AlreadyClaimed)
    async def _already(request: Request, exc: AlreadyClaimed) -> JSONResponse:
        receipt = getattr(exc, "receipt", None)
        return error_response(409, exc.code, exc.detail, entry=exc.entry.to_b64(),
                              receipt=None if receipt is None else receipt.to_b64())

    @app.get("/pubkey")
    def pubkey() -> dict[str, Any]:
        n, head = vts.board.head()
        return {"pubkey": vts.pubkey.hex(), "window": vts.window, "entries": n, "head": head.hex(),
                "receipts": len(vts.receipts())}

    @app.post("/resolve/abort", responses={409: {"description": "ALREADY_CLAIMED: entry (and receipt)"}})
    def abort(body: XBody) -> dict[str, Any]:
        entry, receipt = vts.resolve_aborted_prize(b64decode(body.x))
        return {**_entry_view(entry), "receipt": receipt.to_b64()}

    @app.post("/resolve/orphan", responses={409: {"description": "ALREADY_CLAIMED: the published release"}})
    def orphan(body: OrphanBody) -> dict[str, Any]:
        return _entry_view(vts.resolve_orphaned(b64decode(body.request)))

    @app.get("/board")
    def board(start: int = Query(0, ge=0, le=2**62), stop: int | None = Query(None, ge=0, le=2**62)) -> dict[str, Any]:
        end = start + MAX_RANGE if stop is None else min(stop, start + MAX_RANGE)
        return {"start": start, "entries": [e.to_dict() for e in vts.board.entries(start, end)]}

    @app.get("/receipts")
    def receipts(start: int = Query(0, ge=0, le=2**62),
                 stop: int | None = Query(None, ge=0, le=2**62)) -> dict[str, Any]:
        end = start + MAX_RANGE if stop is None else min(stop, start + MAX_RANGE)
        return {"start": start, "receipts": [r.to_dict() for r in vts.receipts(start, end)]}

    return app


class HTTPMicropay3VTS:
    """A MICROPAY3 VTS reached over HTTP; ``pubkey`` is the pk_T it must prove it holds."""

    def __init__(self, base_url: str, pubkey: bytes, *, timeout: float = 30.0) -> None:
        self.url = base_url.rstrip("/")
        self._pubkey = bytes(pubkey)
        self._client = ServiceClient(self.url, timeout=timeout)

    @property
    def pubkey(self) -> bytes:
        return self._pubkey

    def _entry(self, b64: str, outpoint: tuple[str, int]) -> BoardEntry[Release]:
        entry: BoardEntry[Release] = BoardEntry.decode(b64decode(b64), CLAIMS)
        if entry.vts_pubkey != self.pubkey or not entry.signature_valid() or not entry.sigma_t_valid() \
                or entry.outpoint != outpoint:
            raise ProtocolError("BAD_ENTRY", f"{self.url}: the entry is not pk_T's signed release of this escrow 2")
        return entry

    def _receipt(self, b64: str) -> Receipt:
        r = Receipt.decode(b64decode(b64))
        if r.vts_pubkey != self.pubkey or not r.valid():
            raise ProtocolError("BAD_RECEIPT", f"{self.url}: the receipt is not signed by pk_T")
        return r

    def _post(self, path: str, body: dict[str, str], outpoint: tuple[str, int]) -> Any:
        try:
            return self._client.post(path, body, idempotent=True)
        except ProtocolError as e:
            published = _extra(e, "entry")
            if e.code == "ALREADY_CLAIMED" and isinstance(published, str):
                entry = self._entry(published, outpoint)
                receipt = _extra(e, "receipt")
                if isinstance(receipt, str):
                    raise PrizeRefused(entry, self._receipt(receipt)) from None
                raise AlreadyClaimed(entry) from None
            raise
        except ServiceUnavailable as e:
            raise ProtocolError("VTS_UNAVAILABLE", str(e)) from None

    def resolve_aborted_prize(self, x: Prize | bytes) -> tuple[BoardEntry[Release], Receipt]:
        prize = Prize.decode(x if isinstance(x, bytes) else x.encode())
        answer = self._post("/resolve/abort", {"x": b64encode(prize.encode())}, prize.outpoint)
        return self._entry(answer["entry"], prize.outpoint), self._receipt(answer["receipt"])

    def resolve_orphaned(self, request: OrphanRequest | bytes) -> BoardEntry[Release]:
        req = OrphanRequest.decode(request if isinstance(request, bytes) else request.encode())
        answer = self._post("/resolve/orphan", {"request": b64encode(req.encode())}, req.outpoint)
        return self._entry(answer["entry"], req.outpoint)

    def board(self, start: int = 0) -> list[BoardEntry[Release]]:
        answer = self._client.get("/board", start=start)
        return [BoardEntry.decode(b64decode(e["entry"]), CLAIMS) for e in answer["entries"]]

    def receipts(self, start: int = 0) -> list[Receipt]:
        return [self._receipt(r["receipt"]) for r in self._client.get("/receipts", start=start)["receipts"]]

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HTTPMicropay3VTS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def create_micropay3_merchant_app(merchant: Merchant, *, title: str = "btcmicro MICROPAY3 merchant",
                                  page: str = "<html><body>paid content</body></html>") -> FastAPI:
    """The merchant's page sale: ``/ask`` a request, ``/buy`` with a ticket."""
    app = create_app(title, description=__doc__ or "")

    @app.get("/ask")
    def ask() -> dict[str, Any]:
        req = merchant.request()
        return {"request": req.to_b64(), "price": req.price, "k": req.k}

    @app.post("/buy", response_class=HTMLResponse)
    def buy(body: TicketBody) -> HTMLResponse:
        acc = merchant.check(b64decode(body.ticket))
        return HTMLResponse(page, headers={"X-Ticket-Won": "1" if acc.won else "0"})

    @app.get("/info")
    def info() -> dict[str, Any]:
        tickets, wins = merchant.store.count()
        return {"price": merchant.price, "k": merchant.k, "vts": merchant.vts_key.hex(), "tickets": tickets,
                "wins": wins}

    return app
