"""The MICROPAY2 merchant web server of the paper's §4.3, and the payer's client for it.

Endpoints:

==========================  ================================================================
``GET  /base``              a dynamic page of about 2 kB (the control of the experiment)
``GET  /ask``               a payment request (step 2), base64url under ``request``
``POST /buy``               ``{"ticket": b64}``: the ticket is checked and recorded (step 4),
                            then the same page as ``/base`` is served, with the headers
                            ``Micropay2-Won: yes|no``, ``Micropay2-Escrow: txid:vout`` and
                            ``Micropay2-C`` (hex), so the payer learns of a win and retires the
                            escrow. A winning ticket is claimed through the VTS(s) in the
                            background (:class:`Claimer`); the answer does not wait for it.
``GET  /info``              the merchant's id, price, ρ = 2^-k, VTS keys and options
``GET  /wins``              the winning tickets and their claims' progress (operator only:
                            ``Authorization: Bearer <operator token>``)
==========================  ================================================================

Before each batch of tickets the merchant reads the VTS boards it follows (at most ``board_max_age``
seconds old, default 0: every batch) and refuses tickets on escrows already claimed there
(``ESCROW_CLAIMED``, 409); a board it cannot read refuses the batch (503).

Refused tickets get a JSON error: 400 for a bad ticket (the code says which check failed),
409 for ``REPLAYED`` and ``ESCROW_CLAIMED`` (the payer should retire that escrow), 410 for
``REQUEST_EXPIRED``, 502/503 when the node cannot be asked about the escrow.

**Durability with throughput.** :class:`Merchant.check_many` records a batch of tickets in one
commit. ``/buy`` hands each ticket to a group-commit queue (:class:`TicketBatcher`): tickets that
arrive while a commit is in progress are checked and committed together in the next one, so the
store can keep ``synchronous=FULL`` (every accepted ticket on disk before its page is served)
and the fsync cost is shared by the tickets of a batch.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import queue
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.lottery.micropay2 import (
    Acceptance,
    Claimer,
    Merchant,
    Payer,
    PaymentRequest,
    Ticket,
    VTSClient,
)
from btcmicro.lottery.vts.follower import DEFAULT_BOARD_MAX_AGE, BoardFollower
from btcmicro.service.app import create_app, new_operator_token, operator_only
from btcmicro.service.client import ServiceClient
from btcmicro.service.vts import HTTPVTS
from btcmicro.wire.base64url import b64decode

__all__ = ["create_merchant_app", "board_followers", "render_page", "TicketBatcher", "Claimer", "PayerClient",
           "Purchase", "MERCHANT_STATUS"]

MERCHANT_STATUS = {"REPLAYED": 409, "ESCROW_CLAIMED": 409, "REQUEST_EXPIRED": 410}
"""HTTP statuses of the merchant's refusal codes other than 400."""

WON_HEADER = "Micropay2-Won"
ESCROW_HEADER = "Micropay2-Escrow"
C_HEADER = "Micropay2-C"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body>
<h1>{title}</h1>
<p class="meta">Page {n} rendered at {when} for {who}.</p>
{paragraphs}
<footer>Paid with MICROPAY2 lottery tickets: each ticket wins with probability 1/{odds} and a winning
ticket pays {value} sats, so each page costs {price} sats in expectation.</footer>
</body></html>
"""
_TEXT = ("A probabilistic payment replaces many tiny transfers with a lottery ticket that wins rarely but "
         "pays proportionally more, so the expected payment equals the price while the chain sees only the "
         "winners. ")


def render_page(n: int, who: str, *, price: int, k: int) -> str:
    """The served content: a page of about 2 kB rendered per request (a dynamic parameter ``n``,
    the time and the reader) so nothing can cache it, as the paper's ``/base`` is."""
    paragraphs = "\n".join(f"<p>{i + 1}. {_TEXT}</p>" for i in range(8))
    return _PAGE.format(title="The article", n=n, when=time.strftime("%Y-%m-%d %H:%M:%S"), who=who,
                        paragraphs=paragraphs, odds=1 << k, value=price << k, price=price)


class BuyBody(BaseModel):
    """A ticket (step 3), base64url without padding."""

    ticket: str = Field(max_length=4096, pattern=r"^[A-Za-z0-9_-]*$")


_BUY_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": BuyBody.model_json_schema()}}}}
_TICKET_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_TICKET_MAX = BuyBody.model_fields["ticket"].metadata[0].max_length


def _buy_ticket(body: bytes) -> str:
    """The ticket of a ``/buy`` body: what :class:`BuyBody` accepts (a JSON object whose ``ticket``
    is a base64url string of at most 4,096 characters; other members ignored), else the 400
    ``SYNTAX_ERROR`` a pydantic model's refusal gets."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # bad JSON, bytes that are not UTF-8/16/32, or nested too deep
        raise _invalid_body(("body",), "JSON decode error") from None
    if not isinstance(doc, dict):
        raise _invalid_body(("body",), "Input should be a valid dictionary or object to extract fields from")
    if "ticket" not in doc:
        raise _invalid_body(("body", "ticket"), "Field required")
    ticket = doc["ticket"]
    if not isinstance(ticket, str):
        raise _invalid_body(("body", "ticket"), "Input should be a valid string")
    if len(ticket) > _TICKET_MAX:
        raise _invalid_body(("body", "ticket"), f"String should have at most {_TICKET_MAX} characters")
    if not (ticket.isascii() and _TICKET_CHARS.issuperset(ticket.encode("ascii"))):
        raise _invalid_body(("body", "ticket"), "String should match pattern '^[A-Za-z0-9_-]*$'")
    return ticket


def _invalid_body(loc: tuple[str, ...], msg: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg, "input": None}])


_WON, _ESCROW, _C = (h.lower().encode() for h in (WON_HEADER, ESCROW_HEADER, C_HEADER))
_YES, _NO = b"yes", b"no"
_HTML = b"text/html; charset=utf-8"


def _page_response(page: str, headers: list[tuple[bytes, bytes]]) -> Response:
    """``HTMLResponse(page, headers=...)`` with its header list written out at once (the same headers)."""
    body = page.encode()
    r = Response()
    r.body = body
    r.raw_headers = [*headers, (b"content-length", str(len(body)).encode()), (b"content-type", _HTML)]
    return r


class AskAnswer(BaseModel):
    request: str = Field(description="the PaymentRequest, base64url")
    price: int
    k: int
    expires: int


class InfoAnswer(BaseModel):
    merchant: str
    price: int
    k: int
    rho: str
    vts_keys: list[str]
    threshold: int
    fresh_addresses: bool
    sigma1: str


class WinView(BaseModel):
    c: str
    escrow: str
    claim_value: int
    status: str
    claim_txid: str | None
    detail: str | None


# --- group commit ------------------------------------------------------------------------------------


class TicketBatcher:
    """Group commit for ``/buy``: tickets are checked and recorded through :meth:`Merchant.check_many`
    on one committer thread, in batches of up to ``max_batch``: the tickets that arrive while a
    batch is being checked and committed are checked and committed together in the next one, so
    one fsync serves them all. The committer takes the next batch as soon as it has answered the
    last one, without being woken while tickets keep coming, and each batch costs the event loop
    one wake-up (a thread pool's hop per batch cost several context switches more, and each
    costs tens of µs on a virtual machine). :meth:`close` stops the thread (the app's shutdown)."""

    def __init__(self, merchant: Merchant, max_batch: int = 64) -> None:
        self.merchant = merchant
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.batches = 0
        self.tickets = 0

    async def check(self, ticket: bytes) -> Acceptance:
        """The ticket's Acceptance once it is recorded; ProtocolError if it is refused."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if self._thread is None:
            self._start()
        self._queue.put((ticket, fut, loop))
        result = await fut
        if isinstance(result, BaseException):
            raise result
        assert isinstance(result, Acceptance)
        return result

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ticket-committer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        q = self._queue
        while True:
            item = q.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    nxt = q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            try:
                results: list[Any] = self.merchant.check_many([t for t, _, _ in batch])
            except Exception as e:  # the node or a board failed: every ticket of the batch gets the error
                results = [e] * len(batch)
            self.batches += 1
            self.tickets += len(batch)
            loops: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
            for (_, fut, loop), r in zip(batch, results, strict=True):
                loops.setdefault(loop, []).append((fut, r))
            for loop, answers in loops.items():
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits for these answers
                    loop.call_soon_threadsafe(_answer, answers)
            if stop:
                return

    def close(self, timeout: float = 10.0) -> None:
        """Record what is queued, then stop the committer thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)


_Item = tuple[bytes, "asyncio.Future[Any]", asyncio.AbstractEventLoop]


def _answer(answers: list[tuple[asyncio.Future[Any], Any]]) -> None:
    for fut, r in answers:
        if not fut.done():
            fut.set_result(r)


# --- the app -----------------------------------------------------------------------------------------


def _win_view(rec: Any) -> dict[str, Any]:
    e = rec.ticket.escrow
    return {"c": rec.c.hex(), "escrow": f"{e.txid}:{e.vout}", "claim_value": rec.ticket.claim_value,
            "status": rec.status, "claim_txid": rec.claim_txid, "detail": rec.detail}


def board_followers(vtss: Sequence[VTSClient], *, max_age: float = DEFAULT_BOARD_MAX_AGE) -> list[BoardFollower]:
    """A :class:`BoardFollower` per VTS: an in-process VTS's board, or its own HTTP client for an
    :class:`~btcmicro.service.vts.HTTPVTS` (so board reads never queue behind a slow claim).
    ``ConfigError`` for a VTS whose board cannot be read."""
    out = []
    for v in vtss:
        reader: Any
        if isinstance(v, HTTPVTS):
            reader = HTTPVTS(v.url, v.pubkey, timeout=10.0, checker=v.checker)
        else:
            reader = getattr(v, "board", None)
        if reader is None or not (hasattr(reader, "head") and hasattr(reader, "entries")):
            raise ConfigError(f"{v!r}: its board cannot be read (follow_boards=False to sell without it)")
        out.append(BoardFollower(reader, v.pubkey, max_age=max_age))
    return out


def create_merchant_app(merchant: Merchant, vtss: Sequence[VTSClient], *, max_batch: int = 64,
                        claim_in_background: bool = True, retry_seconds: float = 2.0,
                        follow_boards: bool = True, board_max_age: float = DEFAULT_BOARD_MAX_AGE,
                        operator_token: str | None = None,
                        title: str = "btcmicro MICROPAY2 merchant") -> FastAPI:
    """The merchant's web server. ``vtss`` are the VTS(s) winners are claimed through
    (:class:`~btcmicro.service.vts.HTTPVTS` or in-process :class:`VTS` objects). With
    ``claim_in_background`` a :class:`Claimer` (``app.state.claimer``) runs while the app is
    served; ``app.state.batcher`` is the :class:`TicketBatcher`. With ``follow_boards`` (and a
    merchant following none yet) the merchant follows every VTS's board and refuses tickets on
    escrows claimed there, its view at most ``board_max_age`` seconds old when it accepts a ticket.
    ``/wins`` answers only a request carrying ``operator_token`` (a fresh one when None:
    ``app.state.operator_token``)."""
    owned: list[BoardFollower] = []
    if follow_boards and not merchant.boards:
        owned = board_followers(vtss, max_age=board_max_age)
        merchant.follow(owned)
    app = create_app(title, description=__doc__ or "", status_for_code=MERCHANT_STATUS)
    app.state.operator_token = operator_token or new_operator_token()
    batcher = TicketBatcher(merchant, max_batch)
    claimer = Claimer(merchant, vtss, retry_seconds=retry_seconds) if claim_in_background else None
    app.state.batcher = batcher
    app.state.claimer = claimer
    served = itertools.count(1)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if claimer is not None:
            claimer.start()
        try:
            yield
        finally:
            await asyncio.to_thread(batcher.close)
            if claimer is not None:
                await asyncio.to_thread(claimer.stop)
            for follower in owned:  # the board readers this app opened
                close = getattr(follower.reader, "close", None)
                if isinstance(follower.reader, HTTPVTS) and close is not None:
                    close()

    app.router.lifespan_context = lifespan

    def page(who: str) -> str:
        return render_page(next(served), who, price=merchant.price, k=merchant.k)

    @app.get("/base", response_class=HTMLResponse)
    async def base() -> HTMLResponse:
        return HTMLResponse(page("a visitor"))

    @app.get("/ask", response_model=AskAnswer)
    async def ask() -> dict[str, Any]:
        req = merchant.request()
        return {"request": req.to_b64(), "price": req.price, "k": req.k, "expires": req.expires}

    @app.post("/buy", response_class=HTMLResponse, openapi_extra=_BUY_BODY, responses={
        200: {"description": f"the page; {WON_HEADER}: yes|no, {ESCROW_HEADER}: txid:vout, {C_HEADER}: c (hex)"},
        409: {"description": "REPLAYED, or ESCROW_CLAIMED (retire that escrow)"},
        410: {"description": "REQUEST_EXPIRED"}})
    async def buy(request: Request) -> Response:
        # The body is read and checked here rather than by a pydantic model (BuyBody, whose schema
        # the OpenAPI document shows): the same rules and the same 400 SYNTAX_ERROR, for a fraction
        # of the cost on the one route that carries a body at every sale.
        acc = await batcher.check(b64decode(_buy_ticket(await request.body())))
        if acc.won and claimer is not None:
            claimer.submit(acc.c)
        c = acc.c.hex()
        return _page_response(page(f"ticket {c[:16]}"), [
            (_WON, _YES if acc.won else _NO), (_ESCROW, f"{acc.txid}:{acc.vout}".encode()), (_C, c.encode())])

    @app.get("/info", response_model=InfoAnswer)
    def info() -> dict[str, Any]:
        return {"merchant": merchant.merchant_id.hex(), "price": merchant.price, "k": merchant.k,
                "rho": f"1/{1 << merchant.k}", "vts_keys": [k.hex() for k in merchant.vts_keys],
                "threshold": merchant.threshold, "fresh_addresses": merchant.fresh_addresses,
                "sigma1": merchant.sigma1}

    @app.get("/wins", response_model=list[WinView], dependencies=[operator_only(app.state.operator_token)],
             responses={401: {"description": "UNAUTHORIZED: no or another operator token"}})
    def wins() -> list[dict[str, Any]]:
        return [_win_view(r) for r in merchant.winners()]

    return app


# --- the payer's client ------------------------------------------------------------------------------


class _PageClient(ServiceClient):
    """A :class:`ServiceClient` whose successful answers come back whole (page and headers)."""

    @staticmethod
    def _decode(response: httpx.Response) -> Any:
        if response.is_success:
            return response
        return ServiceClient._decode(response)


@dataclass(frozen=True)
class Purchase:
    """A page bought with a ticket: the page, the ticket, and whether it won."""

    page: str
    ticket: Ticket
    won: bool


class PayerClient:
    """The payer's side of the merchant's server: ``/ask``, then a ticket from ``payer``, then ``/buy``.

    The payer checks every request (ρ, price, expiry) before it signs, and retires an escrow when
    the merchant reports a win on it or refuses it as already won (``ESCROW_CLAIMED``), so it
    backs no further tickets.
    """

    def __init__(self, payer: Payer, base_url: str, *, timeout: float = 30.0) -> None:
        self.payer = payer
        self.url = base_url.rstrip("/")
        self._http = _PageClient(self.url, timeout=timeout)

    def ask(self) -> PaymentRequest:
        """A payment request from the merchant, checked by the payer."""
        return self.payer.check_request(b64decode(self._http.get("/ask").json()["request"]))

    def buy(self, ticket: Ticket) -> Purchase:
        """Send a ticket; the page. Retires the escrow when the ticket won or the merchant says the
        escrow is already won; a refusal raises its ProtocolError."""
        try:
            r = self._http.post("/buy", {"ticket": ticket.to_b64()})
        except ProtocolError as e:
            self.payer.answered(ticket, refused=e.code)
            raise
        won = r.headers.get(WON_HEADER) == "yes"
        if r.headers.get(C_HEADER) != ticket.c.hex():
            raise ProtocolError("BAD_ANSWER", "the merchant answered for another ticket")
        self.payer.answered(ticket, won=won)
        return Purchase(r.text, ticket, won)

    def purchase(self) -> Purchase:
        """ask → pay → buy. When the escrow chosen was already won at this merchant, once more with
        a fresh request (the payer then picks another escrow)."""
        for attempt in (0, 1):
            ticket = self.payer.pay(self.ask())
            try:
                return self.buy(ticket)
            except ProtocolError as e:
                if e.code != "ESCROW_CLAIMED" or attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PayerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
