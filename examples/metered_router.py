"""Bloomer & Nishimura's metered router: Wi-Fi paid per megabyte through a payment channel.

    python examples/metered_router.py [--engine auto|embedded|bitcoind] [--megabytes 10] [--price 2000]

As in the paper, the client first fetches its key from a *key server*: username and password give
back the private key encrypted under the password (scrypt + AES-256-GCM), which only the client can
decrypt. With that key's coins it opens a channel to the router (v3, segwit) over HTTP; the first
payment buys the first megabyte. After every megabyte it pays for the next; the router answers
each payment with the usage and the funds remaining. On logout the client asks for the close; the
router settles and the settlement is mined.
"""
from __future__ import annotations

import argparse
import hmac
import json
import secrets
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pydantic import BaseModel

from btcmicro.channels.bitcoinj import (
    ClientConfig,
    PaymentChannelClient,
    PaymentChannelServer,
    ServerChannel,
    ServerConfig,
    SQLiteClientStore,
    SQLiteServerStore,
)
from btcmicro.core.errors import ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.node.chain import RPCChain
from btcmicro.node.launcher import start_node
from btcmicro.node.rpc import sats
from btcmicro.service import HTTPTransport, ServiceClient, ServiceThread, create_app, create_channel_app
from btcmicro.wallet import Funder, Keystore, Wallet

DEPOSIT = 200_000
_AAD = b"btcmicro/metered-router/key/v1:"


def _kdf(password: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(password.encode())


class Login(BaseModel):
    username: str
    password: str


def key_server_app(users: dict[str, dict[str, str]]) -> Any:
    """The paper's key server: POST /login with username and password returns that user's key,
    encrypted under the password. It stores a scrypt verifier of each password, never the key in
    clear, and cannot decrypt it without the password."""
    app = create_app("metered router key server", status_for_code={"BAD_LOGIN": 401})

    @app.post("/login")
    def login(body: Login) -> dict[str, str]:
        user = users.get(body.username)
        probe = _kdf(body.password, bytes.fromhex(user["auth_salt"])) if user else b""
        if user is None or not hmac.compare_digest(probe.hex(), user["verifier"]):
            raise ProtocolError("BAD_LOGIN", "unknown user or wrong password")
        return {k: user[k] for k in ("enc_salt", "nonce", "ciphertext")}

    return app


def enroll(users: dict[str, dict[str, str]], username: str, password: str, key: PrivateKey) -> None:
    """Store ``key`` for ``username``, sealed with AES-GCM under scrypt(password)."""
    enc_salt, auth_salt, nonce = secrets.token_bytes(16), secrets.token_bytes(16), secrets.token_bytes(12)
    ct = AESGCM(_kdf(password, enc_salt)).encrypt(nonce, key.to_bytes(), _AAD + username.encode())
    users[username] = {"enc_salt": enc_salt.hex(), "nonce": nonce.hex(), "ciphertext": ct.hex(),
                       "auth_salt": auth_salt.hex(), "verifier": _kdf(password, auth_salt).hex()}


def fetch_key(url: str, username: str, password: str) -> PrivateKey:
    """Client side: log in, decrypt the key with the password."""
    with ServiceClient(url) as http:
        blob = http.post("/login", {"username": username, "password": password})
    secret = AESGCM(_kdf(password, bytes.fromhex(blob["enc_salt"]))).decrypt(
        bytes.fromhex(blob["nonce"]), bytes.fromhex(blob["ciphertext"]), _AAD + username.encode())
    return PrivateKey.from_bytes(secret)


class Meter:
    """The router's accounting: megabytes paid for per channel, answered in every PAYMENT_ACK."""

    def __init__(self, price: int) -> None:
        self.price = price

    def __call__(self, channel: ServerChannel, amount: int, info: bytes | None) -> bytes:
        used = json.loads(info)["used_mb"] if info else 0
        return json.dumps({"used_mb": used, "paid_sats": channel.server_value,
                           "paid_mb": channel.server_value // self.price, "remaining_sats": channel.best_change,
                           "remaining_mb": channel.best_change // self.price}).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--megabytes", type=int, default=10)
    parser.add_argument("--price", type=int, default=2_000, help="sats per megabyte")
    args = parser.parse_args()
    with start_node(args.engine) as node:
        rpc, chain = node.rpc, RPCChain(node.rpc)
        bank = Wallet(rpc)
        bank.ensure_balance(DEPOSIT + 100_000)
        users: dict[str, dict[str, str]] = {}
        alice_key = PrivateKey.generate()
        enroll(users, "alice", "correct horse battery staple", alice_key)
        bank.send_many([(bank.address("p2wpkh", alice_key), DEPOSIT + 50_000)])  # alice's coins
        bank.confirm(1)

        router = PaymentChannelServer(chain, SQLiteServerStore(":memory:"), on_payment=Meter(args.price),
                                      config=ServerConfig(min_payment=args.price, min_channel_size=50_000))
        with ServiceThread(key_server_app(users)) as keys, ServiceThread(create_channel_app(router)) as rtr:
            print(f"key server {keys.url}, router {rtr.url}")
            try:
                fetch_key(keys.url, "alice", "wrong password")
            except ProtocolError as e:
                print(f"wrong password: refused ({e.code}, HTTP {getattr(e, 'status', '?')})")
            key = fetch_key(keys.url, "alice", "correct horse battery staple")
            assert key == alice_key
            print(f"alice logged in: key {key.pubkey.hex()[:16]}… decrypted with her password")
            keystore = Keystore()  # in memory only
            keystore.add(key)
            wallet = Funder(rpc, keystore)
            with HTTPTransport(rtr.url) as transport:
                client = PaymentChannelClient(transport, chain, SQLiteClientStore(":memory:"), wallet,
                                              config=ClientConfig(version=3, max_min_payment=args.price))
                ch = client.open(DEPOSIT)
                print(f"channel open: deposit {ch.deposit_txid} of {DEPOSIT:,} sats; "
                      f"the first {args.price:,} sats bought megabyte 1")
                for mb in range(1, args.megabytes):
                    # ... megabyte ``mb`` is used; pay for the next one
                    r = client.pay(args.price, json.dumps({"used_mb": mb}).encode())
                    u = json.loads(r.info)
                    print(f"used {u['used_mb']} MB, paid {u['paid_sats']:,} sats ({u['paid_mb']} MB); "
                          f"remaining {u['remaining_sats']:,} sats ({u['remaining_mb']} MB)")
                settlement = client.close()
            print(f"logout after {args.megabytes} MB: the router settles")
        bank.confirm(1)
        close = rpc.getrawtransaction(settlement.GetTxid()[::-1].hex(), True)
        client_out, router_out = (sats(o["value"]) for o in close["vout"])
        fee = DEPOSIT - client_out - router_out
        print(f"close {close['txid']} ({close['confirmations']} confirmation): alice {client_out:,}, "
              f"router {router_out:,}, fee {fee:,} sats; router earned {DEPOSIT - client_out:,} sats "
              f"= {args.megabytes} MB x {args.price:,}")


if __name__ == "__main__":
    main()
