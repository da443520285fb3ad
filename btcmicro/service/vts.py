"""The VTS over HTTP (paper §3.3 step 4): its public key, claims, and its bulletin board.

Endpoints (JSON; every error ``{"error": {"code", "detail"}}`` with a 4xx status):

==================================  ==========================================================
``GET  /pubkey``                    pk_T (step 0) and the board's head
``POST /claim``  ``{"x": b64}``     sign the claim of a winning x, once per escrow: the
                                    published :class:`BoardEntry` (σ_T inside); 409
                                    ``ALREADY_CLAIMED`` with the published claim under
                                    ``entry`` when another x was signed for the escrow;
                                    400 ``ESCROW_UNKNOWN``/``ESCROW_SPENT``/``ESCROW_MISMATCH``/
                                    ``ESCROW_UNCONFIRMED`` when the VTS has a chain and the
                                    escrow is not on it as x describes it; 429
                                    ``TOO_MANY_CLAIMS``/``TOO_MANY_REQUESTS`` over a client's quota
``GET  /board?start=&stop=``        entries ``start <= seq < stop`` (at most 500 per call)
``GET  /board/head``                number of entries and the last one's hash
``GET  /board/escrow/{txid}/{vout}`` the claim published for one escrow (404 if none)
==================================  ==========================================================

:class:`HTTPVTS` is the client: a :class:`~btcmicro.lottery.micropay2.VTSClient` a
:class:`~btcmicro.lottery.micropay2.Merchant` can claim through, and a reader of the board
for the auditor. **What one client can make the VTS write.** Each client (by address) may add at most
``max_new_claims`` entries to the board per ``quota_window`` seconds (default 60 per minute) and
send at most ``max_claim_requests`` claims per window (default 600: each may cost a chain look-up);
beyond either it gets 429 and nothing is written. The same x again (a retry) is always answered.

It believes nothing it is sent: every entry must be signed by the VTS key
it expects, and an ``ALREADY_CLAIMED`` answer must carry the signed claim for the same escrow.
"""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as FPath
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from btcmicro.core.errors import NodeUnavailable, ProtocolError, ServiceUnavailable
from btcmicro.lottery.micropay2 import CLAIMS
from btcmicro.lottery.vts import VTS, AlreadyClaimed, BoardEntry, ClaimChecker
from btcmicro.service.app import ClientQuota, client_id, create_app, error_response
from btcmicro.service.client import ServiceClient
from btcmicro.wire.base64url import b64decode, b64encode

__all__ = ["create_vts_app", "HTTPVTS", "MAX_BOARD_RANGE", "VTS_STATUS"]

log = logging.getLogger("btcmicro.service.vts")

MAX_BOARD_RANGE = 500
"""Most board entries one ``GET /board`` returns (a reader pages through longer logs)."""

VTS_STATUS = {"ALREADY_CLAIMED": 409, "NOT_FOUND": 404, "TOO_MANY_CLAIMS": 429, "TOO_MANY_REQUESTS": 429}
"""HTTP statuses of the VTS's error codes other than 400."""

_B64 = r"^[A-Za-z0-9_-]*$"


class ClaimBody(BaseModel):
    """A claim: x, the canonical :class:`ClaimWitness`, in base64url without padding."""

    x: str = Field(max_length=4096, pattern=_B64)


class EntryView(BaseModel):
    seq: int
    hash: str
    prev: str
    vts: str
    escrow: str
    a2: str
    claim_value: int
    entry: str = Field(description="the whole entry, base64url")


class ClaimAnswer(EntryView):
    sigma_t: str = Field(description="σ_T, the VTS's DER signature on the claim transaction (hex)")


class PubkeyAnswer(BaseModel):
    pubkey: str
    entries: int
    head: str


class HeadAnswer(BaseModel):
    entries: int
    head: str


class BoardAnswer(BaseModel):
    start: int
    entries: list[EntryView]
    more: bool


def _claim_view(e: BoardEntry[Any]) -> dict[str, Any]:
    return {**e.to_dict(), "sigma_t": e.sigma_t.hex()}


def create_vts_app(vts: VTS[Any], *, title: str = "btcmicro MICROPAY2 VTS", max_new_claims: int = 60,
                   max_claim_requests: int = 600, quota_window: float = 60.0) -> FastAPI:
    """The HTTP face of one VTS key (run one per key for a threshold escrow); x is decoded by the
    VTS's own claim checker. Per client: at most ``max_new_claims`` new board entries and
    ``max_claim_requests`` claim requests per ``quota_window`` seconds. A VTS without a chain signs
    claims on escrows it cannot check: a warning is logged (give it one in production)."""
    app = create_app(title, description=__doc__ or "", status_for_code=VTS_STATUS)
    if vts.chain is None:
        log.warning("VTS %s has no chain: it will sign claims on escrows it cannot check", vts.pubkey.hex()[:16])
    new_claims = ClientQuota(max_new_claims, quota_window)
    claim_requests = ClientQuota(max_claim_requests, quota_window)
    app.state.quotas = (new_claims, claim_requests)

    @app.exception_handler(AlreadyClaimed)
    async def _already(request: Request, exc: AlreadyClaimed) -> JSONResponse:
        return error_response(409, exc.code, exc.detail, entry=exc.entry.to_b64())

    @app.get("/pubkey", response_model=PubkeyAnswer)
    def pubkey() -> dict[str, Any]:
        n, head = vts.board.head()
        return {"pubkey": vts.pubkey.hex(), "entries": n, "head": head.hex()}

    @app.post("/claim", response_model=ClaimAnswer,
              responses={409: {"description": "ALREADY_CLAIMED: the published claim is under error.entry"}})
    def claim(body: ClaimBody, request: Request) -> dict[str, Any]:
        who = client_id(request)
        if not claim_requests.take(who):
            raise ProtocolError("TOO_MANY_REQUESTS", f"over {max_claim_requests} claims per {quota_window:g} s "
                                f"from {who}; retry in {claim_requests.retry_after(who):.0f} s")
        x = vts.check(b64decode(body.x))  # decoded, and the claim's own checks: nothing written yet
        new = vts.is_new(x)
        if new and not new_claims.available(who):
            raise ProtocolError("TOO_MANY_CLAIMS", f"over {max_new_claims} new claims per {quota_window:g} s "
                                f"from {who}; retry in {new_claims.retry_after(who):.0f} s")
        entry = vts.claim(x)
        if new:
            new_claims.take(who)
        return _claim_view(entry)

    @app.get("/board/head", response_model=HeadAnswer)
    def head() -> dict[str, Any]:
        n, h = vts.board.head()
        return {"entries": n, "head": h.hex()}

    @app.get("/board", response_model=BoardAnswer)
    def board(start: int = Query(0, ge=0, le=2**62),
              stop: int | None = Query(None, ge=0, le=2**62)) -> dict[str, Any]:
        end = start + MAX_BOARD_RANGE if stop is None else min(stop, start + MAX_BOARD_RANGE)
        entries = vts.board.entries(start, end + 1)  # one more: is there more?
        more = len(entries) > end - start
        return {"start": start, "entries": [e.to_dict() for e in entries[:end - start]], "more": more}

    @app.get("/board/escrow/{txid}/{vout}", response_model=EntryView)
    def board_escrow(txid: str = FPath(pattern="^[0-9a-f]{64}$"),
                     vout: int = FPath(ge=0, lt=2**32)) -> dict[str, Any]:
        entry = vts.board.entry_for(txid, vout)
        if entry is None:
            raise ProtocolError("NOT_FOUND", f"no claim published for {txid}:{vout}")
        return entry.to_dict()

    return app


class HTTPVTS:
    """A VTS reached over HTTP: :class:`~btcmicro.lottery.micropay2.VTSClient` for merchants, and
    a board reader for auditors.

    ``pubkey`` (pk_T), when given, is what the service must prove it holds: every entry and σ_T
    it returns must verify under it (a service holding another key cannot pass). Without it, the key
    the service announces is taken on
    first use (trust on first use: pass the key you got out of band when you have it).
    A VTS that cannot be reached raises ``ProtocolError("VTS_UNAVAILABLE")`` from :meth:`claim`,
    so a merchant holding several VTSs tries the next one.
    """

    def __init__(self, base_url: str, pubkey: bytes | None = None, *, timeout: float = 30.0,
                 checker: ClaimChecker[Any] = CLAIMS) -> None:
        self.url = base_url.rstrip("/")
        self.checker = checker
        self._pubkey = bytes(pubkey) if pubkey is not None else None
        self._client = ServiceClient(self.url, timeout=timeout)

    @property
    def pubkey(self) -> bytes:
        """pk_T: the key given, else the one the service announces (fetched once)."""
        if self._pubkey is None:
            self._pubkey = bytes.fromhex(self._client.get("/pubkey")["pubkey"])
        return self._pubkey

    def _entry(self, b64: str, what: str) -> BoardEntry[Any]:
        entry = BoardEntry.decode(b64decode(b64), self.checker)
        if entry.vts_pubkey != self.pubkey or not entry.signature_valid():
            raise ProtocolError("BAD_ENTRY_SIGNATURE", f"{self.url}: {what} is not signed by {self.pubkey.hex()}")
        return entry

    def claim(self, x: Any) -> BoardEntry[Any]:
        """Send x; the published entry (σ_T checked on x's claim). :class:`AlreadyClaimed` with the
        VTS's signed claim when another x holds the escrow. Safe to retry: the same x gets the same entry."""
        xb = bytes(x) if isinstance(x, (bytes, bytearray)) else x.encode()
        witness = self.checker.decode(xb)
        try:
            answer = self._client.post("/claim", {"x": b64encode(xb)}, idempotent=True)
        except ProtocolError as e:
            published = getattr(e, "extra", {}).get("entry")  # the answer's other members, as data
            if e.code == "ALREADY_CLAIMED" and isinstance(published, str):
                entry = self._entry(published, "the claim it reports")
                if entry.outpoint != witness.outpoint or not entry.sigma_t_valid():
                    raise ProtocolError("BAD_ENTRY", f"{self.url}: ALREADY_CLAIMED without a signed claim on "
                                        "this escrow") from None
                lost = AlreadyClaimed(entry)
                vars(lost)["status"] = getattr(e, "status", None)  # as the client sets it on every error
                raise lost from None
            raise
        except (ServiceUnavailable, NodeUnavailable) as e:
            raise ProtocolError("VTS_UNAVAILABLE", str(e)) from None
        entry = self._entry(answer["entry"], "the claim entry")
        if entry.x.encode() != xb or not entry.sigma_t_valid():
            raise ProtocolError("BAD_ENTRY", f"{self.url}: the entry does not sign this claim")
        return entry

    def head(self) -> tuple[int, bytes]:
        """(number of entries, hash of the last one)."""
        h = self._client.get("/board/head")
        return int(h["entries"]), bytes.fromhex(h["head"])

    def entries(self, start: int = 0, stop: int | None = None) -> list[BoardEntry[Any]]:
        """Board entries ``start <= seq < stop`` (to the end when ``stop`` is None), each one's
        signature checked; the chain of hashes is the auditor's to check."""
        out: list[BoardEntry[Any]] = []
        while stop is None or start < stop:
            params: dict[str, int] = {"start": start}
            if stop is not None:
                params["stop"] = stop
            page = self._client.get("/board", **params)
            out += [self._entry(e["entry"], f"board entry {e['seq']}") for e in page["entries"]]
            start += len(page["entries"])
            if not page["more"] or not page["entries"]:
                break
        return out

    def entry_for(self, txid: str, vout: int) -> BoardEntry[Any] | None:
        """The claim published for an escrow, if any."""
        try:
            e = self._client.get(f"/board/escrow/{txid}/{vout}")
        except ProtocolError as exc:
            if exc.code == "NOT_FOUND":
                return None
            raise
        return self._entry(e["entry"], f"the entry for {txid}:{vout}")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HTTPVTS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HTTPVTS({self.url!r})"
