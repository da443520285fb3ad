"""Keys the toolkit holds, persisted in one JSON file, encrypted at rest with a passphrase.

File ``<directory>/keystore.json``::

    {"version": 1,
     "kdf": null | {"name": "scrypt", "salt": hex, "n": 32768, "r": 8, "p": 1},
     "check": null | {"nonce": hex, "ct": hex},        # proves the passphrase
     "keys": [{"pubkey": hex, "label": str, "secret": hex}                      # clear
           or {"pubkey": hex, "label": str, "nonce": hex, "ct": hex}]}          # AES-256-GCM

With a passphrase each secret is sealed with AES-256-GCM under a key derived by scrypt;
the public key (in clear, so coins can be found without it) is the associated data, so a
secret cannot be moved to another entry unnoticed.  Writes are atomic (temp file, fsync,
``os.replace``); the file is created with mode 0600.
"""
from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from btcmicro.core.errors import ConfigError
from btcmicro.core.files import atomic_write_json
from btcmicro.core.keys import PrivateKey

__all__ = ["Keystore", "KEYSTORE_FILE", "atomic_write_json", "keystore_state"]

KEYSTORE_FILE = "keystore.json"
_VERSION = 1
_CHECK = b"btcmicro/keystore/v1/check"
_AAD = b"btcmicro/keystore/v1/key:"
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1


def keystore_state(directory: Path | str) -> str:
    """``"absent"``, ``"clear"`` or ``"encrypted"``: what ``<directory>/keystore.json`` holds, read
    without a passphrase (a file that does not parse counts as ``"encrypted"``, so opening it reports
    what is wrong with it)."""
    path = Path(directory) / KEYSTORE_FILE
    if not path.exists():
        return "absent"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return "encrypted"
    return "clear" if isinstance(data, dict) and data.get("kdf") is None else "encrypted"


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> AESGCM:
    key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return AESGCM(key)


class Keystore:
    """An ordered set of private keys; in memory (``directory=None``) or in a directory.

    ``Keystore(dir, passphrase)`` opens the file or creates it (encrypted iff a passphrase is
    given).  Opening an encrypted store without the passphrase, or with a wrong one, raises
    :class:`ConfigError` and changes nothing.  Thread-safe.
    """

    def __init__(self, directory: Path | str | None = None, passphrase: str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._lock = threading.RLock()
        self._keys: list[PrivateKey] = []
        self._labels: list[str] = []
        self._by_pubkey: dict[bytes, PrivateKey] = {}
        self._aead: AESGCM | None = None
        self._kdf: dict[str, Any] | None = None
        self._check: dict[str, str] | None = None
        if self.path is not None and self.path.exists():
            self._load(passphrase)
        else:
            if passphrase is not None:
                self._seal_with(passphrase)
            if self.path is not None:
                self._save()

    def _seal_with(self, passphrase: str) -> None:
        salt = secrets.token_bytes(16)
        self._kdf = {"name": "scrypt", "salt": salt.hex(), "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P}
        self._aead = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        nonce = secrets.token_bytes(12)
        self._check = {"nonce": nonce.hex(), "ct": self._aead.encrypt(nonce, _CHECK, None).hex()}

    def encrypt(self, passphrase: str) -> None:
        """Encrypt a clear keystore in place under ``passphrase`` (one atomic rewrite of the file:
        a crash leaves either the clear file or the encrypted one). :class:`ConfigError` if it is
        already encrypted or the passphrase is empty; nothing changes then."""
        if not passphrase:
            raise ConfigError("an empty passphrase encrypts nothing")
        with self._lock:
            if self.encrypted:
                raise ConfigError(f"keystore {self.path or '(memory)'} is already encrypted")
            try:
                self._seal_with(passphrase)
                self._save()
            except BaseException:
                self._aead = self._kdf = self._check = None
                raise

    @property
    def path(self) -> Path | None:
        return self.directory / KEYSTORE_FILE if self.directory is not None else None

    @property
    def encrypted(self) -> bool:
        return self._kdf is not None

    # -------------------------------------------------------------- persistence
    def _load(self, passphrase: str | None) -> None:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text())
            if data.get("version") != _VERSION:
                raise ConfigError(f"keystore {self.path}: unsupported version {data.get('version')}")
            kdf = data.get("kdf")
            if kdf is not None:
                if passphrase is None:
                    raise ConfigError(f"keystore {self.path} is encrypted: a passphrase is needed")
                if kdf.get("name") != "scrypt":
                    raise ConfigError(f"keystore {self.path}: unknown kdf {kdf.get('name')}")
                aead = _derive(passphrase, bytes.fromhex(kdf["salt"]), int(kdf["n"]),
                               int(kdf["r"]), int(kdf["p"]))
                check = data["check"]
                try:
                    if aead.decrypt(bytes.fromhex(check["nonce"]), bytes.fromhex(check["ct"]),
                                    None) != _CHECK:
                        raise InvalidTag
                except InvalidTag:
                    raise ConfigError(f"wrong passphrase for keystore {self.path}") from None
                self._aead, self._kdf, self._check = aead, kdf, check
            elif passphrase is not None:
                raise ConfigError(f"keystore {self.path} is not encrypted but a passphrase was given")
            for entry in data.get("keys", []):
                pubkey = bytes.fromhex(entry["pubkey"])
                if self._aead is not None:
                    try:
                        secret = self._aead.decrypt(bytes.fromhex(entry["nonce"]),
                                                    bytes.fromhex(entry["ct"]), _AAD + pubkey)
                    except InvalidTag:
                        raise ConfigError(f"keystore {self.path}: a key fails authentication") from None
                else:
                    secret = bytes.fromhex(entry["secret"])
                key = PrivateKey(secret)
                if key.pubkey != pubkey:
                    raise ConfigError(f"keystore {self.path}: secret does not match its public key")
                self._append(key, str(entry.get("label", "")))
        except (KeyError, ValueError, TypeError) as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"corrupt keystore {self.path}: {e!r}") from None

    def _entry(self, key: PrivateKey, label: str) -> dict[str, str]:
        if self._aead is None:
            return {"pubkey": key.pubkey.hex(), "label": label, "secret": key.to_bytes().hex()}
        nonce = secrets.token_bytes(12)
        ct = self._aead.encrypt(nonce, key.to_bytes(), _AAD + key.pubkey)
        return {"pubkey": key.pubkey.hex(), "label": label, "nonce": nonce.hex(), "ct": ct.hex()}

    def _save(self) -> None:
        if self.path is None:
            return
        data = {"version": _VERSION, "kdf": self._kdf, "check": self._check,
                "keys": [self._entry(k, label) for k, label in zip(self._keys, self._labels, strict=True)]}
        atomic_write_json(self.path, data)

    def _append(self, key: PrivateKey, label: str) -> None:
        self._keys.append(key)
        self._labels.append(label)
        self._by_pubkey[key.pubkey] = key

    # ------------------------------------------------------------------- keys
    def add(self, key: PrivateKey, label: str = "") -> PrivateKey:
        """Store ``key`` (no-op if present) and persist; returns it."""
        with self._lock:
            if key.pubkey in self._by_pubkey:
                return self._by_pubkey[key.pubkey]
            self._append(key, label)
            try:
                self._save()
            except BaseException:
                self._keys.pop()
                self._labels.pop()
                del self._by_pubkey[key.pubkey]
                raise
            return key

    def new_key(self, label: str = "") -> PrivateKey:
        """A fresh key from :mod:`secrets`, stored before it is returned."""
        return self.add(PrivateKey.generate(), label)

    def get(self, pubkey: bytes) -> PrivateKey | None:
        return self._by_pubkey.get(bytes(pubkey))

    def keys(self) -> list[PrivateKey]:
        with self._lock:
            return list(self._keys)

    def label(self, pubkey: bytes) -> str:
        with self._lock:
            for k, label in zip(self._keys, self._labels, strict=True):
                if k.pubkey == pubkey:
                    return label
        raise KeyError(pubkey.hex())

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[PrivateKey]:
        return iter(self.keys())

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory"
        return f"Keystore({len(self)} keys, {where}, {'encrypted' if self.encrypted else 'clear'})"
