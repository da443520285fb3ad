"""The key server's cryptography and accounts: a password-derived key split.

The paper's client sends its password to the key server, which returns the private key encrypted
under that password: the server could decrypt it. Here one scrypt of the password (with the
account's salt) gives a master secret, and HKDF derives two keys from it:

- the **encryption key** seals the client's private key (AES-256-GCM, the username as associated
  data); it never leaves the client;
- the **login key** is what the client proves it knows; the server stores only a hash of it (the
  verifier) and compares in constant time.

HKDF outputs under different labels are independent: knowing the login key (the server sees it at
each login) tells nothing about the encryption key, so the server holds a blob it cannot open.

:class:`KeyServer` is the server's logic over an :class:`AccountStore` (a JSON file:
:class:`JSONAccountStore`); failed logins are rate limited per username and per client.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from btcmicro.core.errors import ProtocolError
from btcmicro.core.files import atomic_write_json
from btcmicro.core.keys import PrivateKey

__all__ = ["SplitKeys", "Account", "derive_keys", "login_verifier", "seal_key", "open_key",
           "AccountStore", "JSONAccountStore", "KeyServer", "SCRYPT_N", "USERNAME_PATTERN"]

#: scrypt cost (N = 2^14, r = 8, p = 1: ~50 ms per login on a laptop core).
SCRYPT_N = 2 ** 14
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"
_ENC_INFO = b"btcmicro/metered/key-encryption/v1"
_LOGIN_INFO = b"btcmicro/metered/login-proof/v1"
_VERIFIER_TAG = b"btcmicro/metered/login-verifier/v1"
_AAD = b"btcmicro/metered/client-key/v1:"


@dataclass(frozen=True)
class SplitKeys:
    """The two keys one password gives: ``encryption`` (stays with the client), ``login`` (proof)."""

    encryption: bytes
    login: bytes


def derive_keys(password: str, salt: bytes, n: int = SCRYPT_N) -> SplitKeys:
    """scrypt(password, salt) -> master; HKDF(master) under two labels -> the two keys."""
    master = Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(password.encode())

    def hkdf(info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(master)

    return SplitKeys(hkdf(_ENC_INFO), hkdf(_LOGIN_INFO))


def login_verifier(login_key: bytes) -> bytes:
    """What the server stores: a hash of the login key (a stolen file does not let anyone log in)."""
    return hashlib.sha256(_VERIFIER_TAG + login_key).digest()


@dataclass(frozen=True)
class Account:
    """One account as the server stores it (hex strings): the salt and scrypt cost the client
    derives with, the login verifier, and the sealed key."""

    username: str
    salt: str
    scrypt_n: int
    verifier: str
    nonce: str
    ciphertext: str

    def blob(self) -> dict[str, str | int]:
        """What a successful login returns: everything but the verifier."""
        return {"username": self.username, "salt": self.salt, "scrypt_n": self.scrypt_n, "nonce": self.nonce,
                "ciphertext": self.ciphertext}


def seal_key(username: str, password: str, key: PrivateKey, *, n: int = SCRYPT_N) -> Account:
    """Client side of enrolment: an account whose blob only ``password`` opens."""
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    keys = derive_keys(password, salt, n)
    ct = AESGCM(keys.encryption).encrypt(nonce, key.to_bytes(), _AAD + username.encode())
    return Account(username, salt.hex(), n, login_verifier(keys.login).hex(), nonce.hex(), ct.hex())


def open_key(username: str, encryption_key: bytes, nonce: str, ciphertext: str) -> PrivateKey:
    """Client side of a login: decrypt the blob; ProtocolError("BAD_BLOB") if it does not open."""
    try:
        secret = AESGCM(encryption_key).decrypt(bytes.fromhex(nonce), bytes.fromhex(ciphertext),
                                                _AAD + username.encode())
        return PrivateKey.from_bytes(secret)
    except (InvalidTag, ValueError):
        raise ProtocolError("BAD_BLOB", "the key server's blob does not open with this password") from None


class AccountStore(Protocol):
    """The key server's accounts; ``add`` returns once the account is durable."""

    def get(self, username: str) -> Account | None: ...

    def add(self, account: Account) -> bool:
        """Store a new account; False (nothing stored) when the username is taken."""
        ...

    def usernames(self) -> list[str]: ...


class JSONAccountStore:
    """Accounts in one JSON file (rewritten atomically; ``path`` None keeps them in memory)."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._accounts: dict[str, Account] = {}
        if self.path is not None and self.path.exists():
            for d in json.loads(self.path.read_text()).get("accounts", []):
                self._accounts[d["username"]] = Account(**d)

    def get(self, username: str) -> Account | None:
        with self._lock:
            return self._accounts.get(username)

    def add(self, account: Account) -> bool:
        with self._lock:
            if account.username in self._accounts:
                return False
            accounts = {**self._accounts, account.username: account}
            if self.path is not None:
                atomic_write_json(self.path, {"accounts": [asdict(a) for a in accounts.values()]})
            self._accounts = accounts
            return True

    def usernames(self) -> list[str]:
        with self._lock:
            return sorted(self._accounts)


class _Limiter:
    """At most ``limit`` failed logins per key per ``window`` seconds (a sliding window)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        fails = [t for t in self._fails.get(key, []) if now - t < self.window]
        if fails:
            self._fails[key] = fails
        else:
            self._fails.pop(key, None)
        return fails

    def retry_after(self, key: str) -> float:
        """0 when ``key`` may try now, else the seconds until it may."""
        with self._lock:
            now = self.clock()
            fails = self._recent(key, now)
            return 0.0 if len(fails) < self.limit else max(0.1, self.window - (now - fails[0]))

    def fail(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            self._recent(key, now)
            self._fails.setdefault(key, []).append(now)
            if len(self._fails) > 100_000:  # bounded memory: drop the oldest keys
                for k in list(self._fails)[:50_000]:
                    del self._fails[k]


class KeyServer:
    """The key server's logic. ``salt`` and ``login`` never see a password or the encryption key.

    Unknown users get a salt too (derived from a server secret, the same each time), and a login
    for them fails as a wrong password does (``BAD_LOGIN``), so the server does not tell who has an
    account. After ``max_failures`` failed logins within ``window`` seconds for one username or one
    client, further attempts are refused with ``TOO_MANY_ATTEMPTS`` (and ``retry_after``).
    """

    def __init__(self, store: AccountStore, *, max_failures: int = 5, window: float = 60.0,
                 secret: bytes | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._secret = secret or secrets.token_bytes(32)
        self._by_user = _Limiter(max_failures, window, clock)
        self._by_client = _Limiter(max_failures * 4, window, clock)

    @staticmethod
    def check_username(username: str) -> None:
        if not re.fullmatch(USERNAME_PATTERN, username):
            raise ProtocolError("BAD_USERNAME", "a username is 1-64 letters, digits or _.@-")

    def salt(self, username: str) -> dict[str, str | int]:
        """What the client derives its keys with."""
        self.check_username(username)
        account = self.store.get(username)
        if account is not None:
            return {"salt": account.salt, "scrypt_n": account.scrypt_n}
        fake = hmac.new(self._secret, username.encode(), hashlib.sha256).digest()[:16]
        return {"salt": fake.hex(), "scrypt_n": SCRYPT_N}

    def _throttle(self, username: str, client: str) -> None:
        wait = max(self._by_user.retry_after(username), self._by_client.retry_after(client))
        if wait > 0:
            err = ProtocolError("TOO_MANY_ATTEMPTS", f"too many failed logins; try again in {wait:.0f} s")
            err.retry_after = int(wait) + 1  # type: ignore[attr-defined]  # read by the service for Retry-After
            raise err

    def login(self, username: str, login_key_hex: str, client: str = "unknown") -> dict[str, str | int]:
        """The sealed key for a correct login proof; ``BAD_LOGIN`` otherwise."""
        self.check_username(username)
        self._throttle(username, client)
        try:
            proof = bytes.fromhex(login_key_hex)
        except ValueError:
            proof = b""
        account = self.store.get(username)
        expected = bytes.fromhex(account.verifier) if account is not None else b"\0" * 32
        ok = len(proof) == 32 and hmac.compare_digest(login_verifier(proof), expected) and account is not None
        if not ok or account is None:
            self._by_user.fail(username)
            self._by_client.fail(client)
            raise ProtocolError("BAD_LOGIN", "unknown user or wrong password")
        return account.blob()

    def enroll(self, account: Account) -> None:
        """Add an account the client sealed; ``USER_EXISTS`` when the name is taken."""
        self.check_username(account.username)
        try:
            bytes.fromhex(account.salt), bytes.fromhex(account.nonce), bytes.fromhex(account.ciphertext)
            if len(bytes.fromhex(account.verifier)) != 32 or account.scrypt_n not in (2 ** k for k in range(10, 21)):
                raise ValueError
        except ValueError:
            raise ProtocolError("BAD_ACCOUNT", "salt, nonce, ciphertext and a 32-byte verifier in hex; "
                                "scrypt_n a power of two 2^10..2^20") from None
        if not self.store.add(account):
            raise ProtocolError("USER_EXISTS", f"{account.username} is taken")
