"""MicroCash over HTTP: the notary N and a merchant, and the clients the other parties use.

Notary endpoints (JSON; every error ``{"error": {"code", "detail"}}`` with a 4xx status):

==================================  ======================================================================
``GET  /pubkey``                    N's key and its board's length and head
``POST /escrow`` ``{params, txid}`` register an escrow (canonical parameters, base64url, and the creation's
                                    txid): N checks the creation on the chain, publishes it, serves it
``GET  /escrow/{id_esc}``           an escrow's status (``active``, ``broken``, ``burned``)
``GET  /draw/{id_esc}/{group}``     the draw's W winning seqnos; 425 ``NOT_FINAL`` before k confirmations
``POST /claim`` ``{claim}``         a merchant's claim (base64url): ``{"result": "accepted" | "broken"}``
``POST /proof`` ``{proof}``         a proof of cheating: ``{"result": "broken"}``
``POST /settle`` ``{id_esc, group}`` operator: pay the draw's accepted claims in one transaction
``POST /burn`` ``{id_esc}``         operator: pay duplicated winners from the penalty, burn the rest
``GET  /board?start=&stop=``        N's board entries (base64url), at most 500 per page
==================================  ======================================================================

Merchant endpoints:

==================================  ======================================================================
``GET  /info``                      the merchant's key and the escrows it serves (with its index in each)
``POST /escrow`` ``{params, txid}`` the customer announces an escrow; the merchant checks the creation on
                                    the chain (outputs, confirmed before round 0) and serves it; P-B adds
                                    ``nonces`` and ``presigs`` (this route's body limit: 6 MB, 2^17 seqnos)
``POST /ticket`` ``{ticket}``       a ticket (base64url, 110 bytes): ``{"held": true}`` once it is on disk;
                                    409 ``CHEATING`` with the ``proof`` (base64url) for a duplicate or
                                    out-of-range seqno (forwarded to N when the merchant knows N's URL)
``POST /claim`` ``{id_esc, group}`` operator: claim the draw's held winners with N; each claim's result
==================================  ======================================================================

Both parties are serialised behind one lock per service (each decision reads then writes its store);
every answer is given after the store committed.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from bitcoin.core import CTransaction
from fastapi import FastAPI, Query, Request
from fastapi import Path as FPath
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.lottery.microcash.board import Entry, verify_board
from btcmicro.lottery.microcash.escrow import Escrow, check_creation
from btcmicro.lottery.microcash.merchant import Merchant
from btcmicro.lottery.microcash.messages import Claim, Proof, Ticket
from btcmicro.lottery.microcash.notary import Notary
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.trustless import NonceList
from btcmicro.ports import Chain
from btcmicro.service.app import create_app, error_response, new_operator_token, operator_only
from btcmicro.service.client import ServiceClient
from btcmicro.wire.base64url import b64decode, b64encode

__all__ = ["create_notary_app", "create_microcash_merchant_app", "NotaryClient", "MerchantClient", "CheatingProved",
           "STATUS", "MAX_BOARD_RANGE"]

MAX_BOARD_RANGE = 500
"""Board entries per page."""

STATUS = {
    "UNKNOWN_ESCROW": 404, "NOT_FOUND": 404,
    "ALREADY_CLAIMED": 409, "REPLAYED": 409, "ESCROW_BROKEN": 409, "SPENT": 409, "UNEXPECTED_EVENT": 409,
    "CHEATING": 409,
    "NOT_FINAL": 425,
    "EXPIRED": 422, "LOSING_TICKET": 422, "OFF_SCHEDULE": 422, "WRONG_MERCHANT": 422, "NOT_A_MERCHANT": 422,
    "BAD_SIGNATURE": 422, "BAD_MERCHANT_SIGNATURE": 422, "BAD_PROOF": 422, "BAD_ESCROW": 422,
    "NONCE_NOT_COMMITTED": 422, "OUT_OF_RANGE": 422, "NONCES_MISSING": 409, "TRUSTLESS_PENALTY": 409,
    "DISAGREE": 409, "BELOW_THRESHOLD": 409,
}
"""HTTP status of each MicroCash error code (400 for the rest: malformed input)."""

_B64 = r"^[A-Za-z0-9_-]*$"
_HEX32 = "^[0-9a-f]{64}$"
_HEX36 = "^[0-9a-f]{72}$"
_T = TypeVar("_T")


class EscrowBody(BaseModel):
    params: str = Field(max_length=40_000, pattern=_B64, description="canonical parameters, base64url")
    txid: str = Field(pattern=_HEX32, description="the creation's txid")


MAX_NONCES_TEXT = 6_000_000
"""The R list's base64url length limit: 2^17 seqnos' list (4 MiB) is 5,592,406 characters."""
ESCROW_BODY_LIMIT = MAX_NONCES_TEXT + 64 * 1024
"""The merchant's ``POST /escrow`` body limit (the R list, the parameters, the pre-signatures); its other
routes keep the default 64 KiB."""


class MerchantEscrowBody(EscrowBody):
    nonces: str | None = Field(None, max_length=MAX_NONCES_TEXT, pattern=_B64,
                               description="P-B: C's R list (32 bytes per seqno), base64url")
    presigs: list[str] | None = Field(None, max_length=15, description="P-B: the burn's pre-signatures, hex")


class ClaimBody(BaseModel):
    claim: str = Field(max_length=1024, pattern=_B64)


class ProofBody(BaseModel):
    proof: str = Field(max_length=1024, pattern=_B64)


class TicketBody(BaseModel):
    ticket: str = Field(max_length=512, pattern=_B64)


class DrawBody(BaseModel):
    id_esc: str = Field(pattern=_HEX36, description="the escrow's id (its outpoint, hex)")
    group: int = Field(ge=0, lt=2**31)


class EscrowIdBody(BaseModel):
    id_esc: str = Field(pattern=_HEX36)


def _params(text: str) -> Params:
    try:
        return Params.from_canonical(b64decode(text))
    except ConfigError as e:  # an encoding of parameters that fail the creation checks
        raise ProtocolError("BAD_ESCROW", str(e)) from None


def _creation(chain: Chain, params: Params, txid: str) -> Escrow:
    """The creation checks, as N and every merchant make them (``BAD_ESCROW`` when they fail)."""
    st = chain.get_tx(txid)
    if st is None:
        raise ProtocolError("NOT_FOUND", f"no transaction {txid} on the chain")
    try:
        return check_creation(params, CTransaction.deserialize(bytes.fromhex(st.hex)), st.block_height)
    except ConfigError as e:
        raise ProtocolError("BAD_ESCROW", str(e)) from None


def create_notary_app(notary: Notary, *, title: str = "btcmicro MicroCash notary",
                      operator_token: str | None = None) -> FastAPI:
    """N's HTTP face. ``/settle`` and ``/burn`` answer only ``operator_token`` (a fresh one when None:
    ``app.state.operator_token``)."""
    app = create_app(title, description=__doc__ or "", status_for_code=STATUS)
    app.state.operator_token = operator_token or new_operator_token()
    operator = operator_only(app.state.operator_token)
    lock = threading.Lock()

    def locked(f: Callable[[], _T]) -> _T:
        with lock:
            return f()

    def escrow(id_esc: str) -> Escrow:
        esc = notary.escrows.get(bytes.fromhex(id_esc))
        if esc is None:
            raise ProtocolError("UNKNOWN_ESCROW", f"N serves no escrow {id_esc}")
        return esc

    @app.get("/pubkey")
    def pubkey() -> dict[str, Any]:
        entries = notary.store.board()
        head = Entry.decode(entries[-1]).hash.hex() if entries else "00" * 32
        return {"pubkey": notary.key.pubkey.hex(), "entries": len(entries), "head": head}

    @app.post("/escrow")
    def register(body: EscrowBody) -> dict[str, Any]:
        params = _params(body.params)
        if notary.key.pubkey not in params.notary_keys:
            raise ProtocolError("BAD_ESCROW", "the parameters name another notary")
        _creation(notary.chain, params, body.txid)  # checked outside the lock: nothing written yet
        esc = locked(lambda: notary.register(params, body.txid))
        return {"id_esc": esc.id_esc.hex(), "status": str(notary.status(esc.id_esc).value)}

    @app.get("/escrow/{id_esc}")
    def status(id_esc: str = FPath(pattern=_HEX36)) -> dict[str, Any]:
        esc = escrow(id_esc)
        return {"id_esc": id_esc, "txid": esc.txid, "status": str(notary.status(esc.id_esc).value)}

    @app.get("/draw/{id_esc}/{group}")
    def draw(id_esc: str = FPath(pattern=_HEX36), group: int = FPath(ge=0, lt=2**31)) -> dict[str, Any]:
        esc = escrow(id_esc)
        if group >= esc.params.groups:
            raise ProtocolError("NOT_FOUND", f"the escrow has {esc.params.groups} draws")
        return {"id_esc": id_esc, "group": group, "winners": locked(lambda: notary.winners(esc, group))}

    @app.post("/claim")
    def claim(body: ClaimBody) -> dict[str, Any]:
        data = b64decode(body.claim)
        return {"result": locked(lambda: notary.claim(data))}

    @app.post("/proof")
    def proof(body: ProofBody) -> dict[str, Any]:
        data = b64decode(body.proof)
        return {"result": locked(lambda: notary.proof(data))}

    @app.post("/settle", dependencies=[operator])
    def settle(body: DrawBody) -> dict[str, Any]:
        esc = escrow(body.id_esc)
        if body.group >= esc.params.groups:
            raise ProtocolError("NOT_FOUND", f"the escrow has {esc.params.groups} draws")
        return {"txid": locked(lambda: notary.settle(esc.id_esc, body.group))}

    @app.post("/burn", dependencies=[operator])
    def burn(body: EscrowIdBody) -> dict[str, Any]:
        esc = escrow(body.id_esc)
        return {"txid": locked(lambda: notary.burn(esc.id_esc))}

    @app.get("/board")
    def board(start: int = Query(0, ge=0, le=2**62), stop: int | None = Query(None, ge=0, le=2**62)) -> dict[str, Any]:
        entries = notary.store.board()
        end = min(len(entries), start + MAX_BOARD_RANGE if stop is None else min(stop, start + MAX_BOARD_RANGE))
        return {"start": start, "entries": [b64encode(e) for e in entries[start:end]], "more": end < len(entries)}

    return app


class NotaryClient:
    """N over HTTP, as merchants and customers use it; every board page is checked (chain and N's
    signatures) before it is returned."""

    def __init__(self, base_url: str, *, pubkey: bytes | None = None, timeout: float = 30.0,
                 operator_token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {operator_token}"} if operator_token else None
        self.http = ServiceClient(base_url, timeout=timeout, headers=headers)
        self.pubkey = pubkey if pubkey is not None else bytes.fromhex(self.http.get("/pubkey")["pubkey"])

    def register(self, params: Params, txid: str) -> bytes:
        answer = self.http.post("/escrow", {"params": b64encode(params.canonical()), "txid": txid}, idempotent=True)
        return bytes.fromhex(answer["id_esc"])

    def status(self, id_esc: bytes) -> str:
        return str(self.http.get(f"/escrow/{id_esc.hex()}")["status"])

    def winners(self, id_esc: bytes, group: int) -> list[int]:
        return [int(s) for s in self.http.get(f"/draw/{id_esc.hex()}/{group}")["winners"]]

    def claim(self, claim: Claim) -> str:
        return str(self.http.post("/claim", {"claim": b64encode(claim.encode())})["result"])

    def proof(self, proof: Proof) -> str:
        return str(self.http.post("/proof", {"proof": b64encode(proof.encode())})["result"])

    def settle(self, id_esc: bytes, group: int) -> str | None:
        txid = self.http.post("/settle", {"id_esc": id_esc.hex(), "group": group})["txid"]
        return None if txid is None else str(txid)

    def burn(self, id_esc: bytes) -> str | None:
        txid = self.http.post("/burn", {"id_esc": id_esc.hex()})["txid"]
        return None if txid is None else str(txid)

    def board(self) -> list[Entry]:
        entries: list[Entry] = []
        while True:
            page = self.http.get("/board", start=len(entries))
            entries += [Entry.decode(b64decode(e)) for e in page["entries"]]
            if not page["more"] or not page["entries"]:
                break
        verify_board(entries, self.pubkey)
        return entries

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> NotaryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def create_microcash_merchant_app(merchant: Merchant, *, notary: NotaryClient | None = None,
                                  title: str = "btcmicro MicroCash merchant",
                                  operator_token: str | None = None) -> FastAPI:
    """The merchant's HTTP face. With ``notary``, a proof of cheating a ticket reveals is sent to N at
    once, the board is followed (escrows N broke are refused) and ``/claim`` claims through N.
    ``/claim`` answers only ``operator_token`` (a fresh one when None: ``app.state.operator_token``)."""
    app = create_app(title, description=__doc__ or "", status_for_code=STATUS,
                     route_max_body={"/escrow": ESCROW_BODY_LIMIT})
    app.state.operator_token = operator_token or new_operator_token()
    operator = operator_only(app.state.operator_token)
    lock = threading.Lock()

    @app.exception_handler(CheatingProved)
    async def _cheating(request: Request, exc: CheatingProved) -> JSONResponse:
        return error_response(409, exc.code, exc.detail, proof=b64encode(exc.proof.encode()), notary=exc.verdict)

    @app.get("/info")
    def info() -> dict[str, Any]:
        return {"pubkey": merchant.key.pubkey.hex(),
                "escrows": [{"id_esc": e.id_esc.hex(), "txid": e.txid,
                             "index": e.params.merchants.index(merchant.key.pubkey)}
                            for e in list(merchant.escrows.values())]}

    @app.post("/escrow")
    def serve(body: MerchantEscrowBody) -> dict[str, Any]:
        params = _params(body.params)
        esc = _creation(merchant.chain, params, body.txid)
        try:
            nonces = None if body.nonces is None else NonceList.split(b64decode(body.nonces))
        except ProtocolError as e:
            raise ProtocolError(e.code, f"nonces (C's R list, base64url, 32 bytes per seqno): {e.detail}") from None
        try:
            presigs = None if body.presigs is None else [bytes.fromhex(x) for x in body.presigs]
        except ValueError:
            raise ProtocolError("MALFORMED", "presigs are hex signatures") from None
        with lock:
            try:
                index = merchant.serve(esc, nonces, presigs)
            except ConfigError as e:  # a P-B escrow without a good R list or pre-signatures
                raise ProtocolError("BAD_ESCROW", str(e)) from None
        return {"id_esc": esc.id_esc.hex(), "index": index}

    @app.post("/ticket")
    def ticket(body: TicketBody) -> dict[str, Any]:
        data = b64decode(body.ticket)
        with lock:
            proof = merchant.receive(data)
        if proof is None:
            return {"held": True}
        verdict = None
        if notary is not None:
            verdict = notary.proof(proof)
            merchant.mark_broken(proof.first.id_esc)
        raise CheatingProved(proof, verdict)

    @app.post("/claim", dependencies=[operator])
    def claim(body: DrawBody) -> dict[str, Any]:
        if notary is None:
            raise ProtocolError("NO_NOTARY", "this merchant was started without N's URL")
        id_esc = bytes.fromhex(body.id_esc)
        if id_esc not in merchant.escrows:
            raise ProtocolError("UNKNOWN_ESCROW", f"no escrow {body.id_esc}")
        with lock:
            claims = merchant.claims(id_esc, body.group)
        results = []
        for c in claims:
            try:
                results.append({"seqno": c.ticket.seqno, "result": notary.claim(c)})
            except ProtocolError as e:
                results.append({"seqno": c.ticket.seqno, "result": "refused", "code": e.code, "detail": e.detail})
        return {"claims": results}

    return app


class CheatingProved(ProtocolError):
    """A ticket the merchant refused because it proves the customer cheated: ``CHEATING``, with the
    :class:`Proof` and N's verdict on it (None when the merchant does not know N)."""

    def __init__(self, proof: Proof, verdict: str | None) -> None:
        kind = "a duplicate seqno" if proof.second is not None else "an out-of-range seqno"
        super().__init__("CHEATING", f"{kind} ({proof.first.seqno}) proves the customer cheated"
                         + (f"; N: {verdict}" if verdict else ""))
        self.proof = proof
        self.verdict = verdict


class MerchantClient:
    """A merchant over HTTP, as the customer pays it."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.http = ServiceClient(base_url, timeout=timeout)

    def announce(self, params: Params, txid: str, nonces: Sequence[bytes] | None = None,
                 presigs: Sequence[bytes] | None = None) -> int:
        """Announce an escrow (a P-B one with C's R list and the burn's pre-signatures); the merchant's
        index in it."""
        body: dict[str, Any] = {"params": b64encode(params.canonical()), "txid": txid}
        if nonces is not None:
            body["nonces"] = b64encode(b"".join(nonces))
        if presigs is not None:
            body["presigs"] = [s.hex() for s in presigs]
        answer = self.http.post("/escrow", body, idempotent=True)
        return int(answer["index"])

    def pay(self, ticket: Ticket) -> None:
        """Send a ticket; returns once the merchant holds it on disk (``ProtocolError`` otherwise)."""
        self.http.post("/ticket", {"ticket": b64encode(ticket.encode())})

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> MerchantClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
