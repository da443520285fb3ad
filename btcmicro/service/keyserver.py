"""The metered service's key server over HTTP, and the client that logs in to it.

- ``GET /keys/salt?username=...`` -> ``{"salt", "scrypt_n"}`` (unknown users get one too);
- ``POST /keys/login`` with ``{"username", "login_key"}`` (hex, derived by the client from its
  password) -> the sealed key ``{"username", "salt", "scrypt_n", "nonce", "ciphertext"}``;
  401 ``BAD_LOGIN`` for an unknown user or a wrong password, 429 ``TOO_MANY_ATTEMPTS`` with
  ``Retry-After`` after too many failures;
- ``POST /keys/accounts`` with an account the client sealed (salt, scrypt_n, verifier, nonce,
  ciphertext): 201, or 409 ``USER_EXISTS``.

The password never leaves the client: :class:`KeyServerClient` derives the two keys, sends the
login key only, and decrypts the blob with the encryption key.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from btcmicro.channels.bitcoinj.metered.keys import (
    USERNAME_PATTERN,
    Account,
    KeyServer,
    derive_keys,
    open_key,
    seal_key,
)
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.service.app import client_id, create_app, error_response
from btcmicro.service.client import ServiceClient

__all__ = ["create_keyserver_app", "KeyServerClient", "KEYSERVER_STATUS"]

KEYSERVER_STATUS = {"BAD_LOGIN": 401, "TOO_MANY_ATTEMPTS": 429, "USER_EXISTS": 409, "BAD_USERNAME": 400,
                    "BAD_ACCOUNT": 400}


class LoginRequest(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    login_key: str = Field(pattern=r"^[0-9a-f]{64}$")


class AccountRequest(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    salt: str = Field(pattern=r"^[0-9a-f]{16,64}$")
    scrypt_n: int = Field(ge=1024, le=2 ** 20)
    verifier: str = Field(pattern=r"^[0-9a-f]{64}$")
    nonce: str = Field(pattern=r"^[0-9a-f]{24}$")
    ciphertext: str = Field(pattern=r"^[0-9a-f]{32,256}$")


def _refused(e: ProtocolError) -> JSONResponse:
    retry = getattr(e, "retry_after", None)
    return error_response(KEYSERVER_STATUS.get(e.code, 400), e.code, e.detail,
                          headers={"Retry-After": str(retry)} if retry else None, retry_after=retry)


def create_keyserver_app(keys: KeyServer) -> FastAPI:
    app = create_app("metercoin key server", description="Accounts holding each client's key, sealed under a key "
                     "derived from the password that the server never sees.", status_for_code=KEYSERVER_STATUS)
    app.state.keyserver = keys

    @app.get("/keys/salt", summary="What the client derives its keys with")
    def salt(username: str = Query(pattern=USERNAME_PATTERN)) -> Any:
        try:
            return keys.salt(username)
        except ProtocolError as e:
            return _refused(e)

    @app.post("/keys/login", summary="The sealed key, for a correct login proof")
    def login(body: LoginRequest, request: Request) -> Any:
        try:
            return keys.login(body.username, body.login_key, client_id(request))
        except ProtocolError as e:
            return _refused(e)

    @app.post("/keys/accounts", status_code=201, summary="Enrol an account sealed by the client")
    def enroll(body: AccountRequest) -> Any:
        try:
            keys.enroll(Account(**body.model_dump()))
        except ProtocolError as e:
            return _refused(e)
        return {"username": body.username}

    return app


class KeyServerClient(ServiceClient):
    """The client side (:class:`~btcmicro.channels.bitcoinj.metered.KeyPort`): the password stays here."""

    def fetch_key(self, username: str, password: str) -> PrivateKey:
        params = self.get("/keys/salt", username=username)
        split = derive_keys(password, bytes.fromhex(params["salt"]), int(params["scrypt_n"]))
        blob = self.post("/keys/login", {"username": username, "login_key": split.login.hex()})
        return open_key(username, split.encryption, blob["nonce"], blob["ciphertext"])

    def enroll(self, username: str, password: str, key: PrivateKey) -> Account:
        account = seal_key(username, password, key)
        self.post("/keys/accounts", {k: getattr(account, k) for k in
                                     ("username", "salt", "scrypt_n", "verifier", "nonce", "ciphertext")})
        return account
