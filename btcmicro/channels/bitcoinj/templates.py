"""bitcoinj channel contracts: the v1 bare 2-of-2 deposit and the v2/v3 CLTV channel script.

================== =====================================================================================
BitcoinjV1Channel  ``2 <client> <server> 2 CHECKMULTISIG`` (bare; refund by nLockTime)
BitcoinjV2Channel  ``IF <server> CHECKSIGVERIFY ELSE <expiry> CHECKLOCKTIMEVERIFY DROP ENDIF
                   <client> CHECKSIG``
================== =====================================================================================
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from bitcoin.core.script import (
    OP_CHECKLOCKTIMEVERIFY,
    OP_CHECKMULTISIG,
    OP_CHECKSIG,
    OP_CHECKSIGVERIFY,
    OP_DROP,
    OP_ELSE,
    OP_ENDIF,
    OP_IF,
    CScript,
)

from btcmicro.contracts import MAX_LOCKTIME, Expiry, MultisigMofN, Spend, Template, checked_key
from btcmicro.core.lazy import cached_property
from btcmicro.script.standard import is_pubkey, parse_ops, script_number

__all__ = ["BitcoinjV1Channel", "BitcoinjV2Channel"]


@dataclass(frozen=True)
class BitcoinjV1Channel(Template):
    """bitcoinj v1 channel deposit: bare ``2 <client> <server> 2 CHECKMULTISIG`` (client key first).

    Both paths carry ``OP_0 <client_sig> <server_sig>``: ``close`` (the server's settlement, client
    signature from the last payment, usually SINGLE|ANYONECANPAY) and ``refund`` (nLockTime = expiry,
    non-final sequence; server signs NONE|ANYONECANPAY, client ALL). The expiry lives in the refund
    transaction, not the script, so a spend with a nLockTime is read as the refund.
    """

    client: bytes
    server: bytes

    name: ClassVar[str] = "bitcoinj-v1-channel"
    paths: ClassVar[tuple[str, ...]] = ("close", "refund")
    default_wrapping: ClassVar[str] = "bare"

    def __post_init__(self) -> None:
        object.__setattr__(self, "client", checked_key(self.client, "client"))
        object.__setattr__(self, "server", checked_key(self.server, "server"))

    @cached_property
    def script(self) -> bytes:
        return bytes(CScript([2, self.client, self.server, 2, OP_CHECKMULTISIG]))

    def roles(self) -> dict[str, bytes]:
        return {"client": self.client, "server": self.server}

    def bare_allowed(self) -> bool:
        return True

    def _path_sigs(self, path: str) -> int:
        return 2

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        return [b"", sigs[0], sigs[1]]

    def _path_of(self, stack: Sequence[bytes], lock_time: int, signers: Sequence[str | None]) -> str | None:
        return "refund" if lock_time else "close"

    def close(self, client_sig: bytes, server_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("close", client_sig, server_sig, wrapping=wrapping)

    def refund(self, client_sig: bytes, server_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("refund", client_sig, server_sig, wrapping=wrapping)

    @classmethod
    def from_script(cls, script: bytes) -> BitcoinjV1Channel | None:
        ms = MultisigMofN.from_script(script)
        if ms is None or ms.m != 2 or ms.n != 2:
            return None
        return cls(ms.pubkeys[0], ms.pubkeys[1])


@dataclass(frozen=True)
class BitcoinjV2Channel(Template):
    """bitcoinj v2 (CLTV) channel:
    ``IF <server> CHECKSIGVERIFY ELSE <expiry> CHECKLOCKTIMEVERIFY DROP ENDIF <client> CHECKSIG``.

    ``close(client_sig, server_sig)``: ``<client_sig> <server_sig> 1``;
    ``refund(client_sig)``: ``<client_sig> 0`` in a transaction with nLockTime >= expiry (same kind)
    and a non-final sequence. Byte-exact with bitcoinj's ``createCLTVPaymentChannelOutput`` for every
    expiry above 16 (bitcoinj pushes 1..16 as data, which MINIMALDATA refuses; we use OP_n).
    """

    client: bytes
    server: bytes
    expiry: Expiry

    name: ClassVar[str] = "bitcoinj-v2-channel"
    paths: ClassVar[tuple[str, ...]] = ("close", "refund")
    default_wrapping: ClassVar[str] = "p2sh"

    def __post_init__(self) -> None:
        object.__setattr__(self, "client", checked_key(self.client, "client"))
        object.__setattr__(self, "server", checked_key(self.server, "server"))
        object.__setattr__(self, "expiry", Expiry.of(self.expiry))

    @cached_property
    def script(self) -> bytes:
        return bytes(CScript([
            OP_IF,
                self.server, OP_CHECKSIGVERIFY,
            OP_ELSE,
                self.expiry.value, OP_CHECKLOCKTIMEVERIFY, OP_DROP,
            OP_ENDIF,
            self.client, OP_CHECKSIG,
        ]))  # fmt: skip

    def roles(self) -> dict[str, bytes]:
        return {"server": self.server, "client": self.client}

    def _path_sigs(self, path: str) -> int:
        return 2 if path == "close" else 1

    def _stack(self, path: str, sigs: Sequence[bytes]) -> list[bytes]:
        return [sigs[0], sigs[1], b"\x01"] if path == "close" else [sigs[0], b""]

    def _path_of(self, stack: Sequence[bytes], lock_time: int, signers: Sequence[str | None]) -> str | None:
        return "close" if stack and stack[-1] == b"\x01" else "refund"

    def close(self, client_sig: bytes, server_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("close", client_sig, server_sig, wrapping=wrapping)

    def refund(self, client_sig: bytes, wrapping: str | None = None) -> Spend:
        return self.spend("refund", client_sig, wrapping=wrapping)

    @classmethod
    def from_script(cls, script: bytes) -> BitcoinjV2Channel | None:
        script = bytes(script)
        ops = parse_ops(script)
        if ops is None or len(ops) != 10:
            return None
        shape = [o for o, _ in ops]
        if (shape[0], shape[2], shape[3], shape[5], shape[6], shape[7], shape[9]) != (
            OP_IF, OP_CHECKSIGVERIFY, OP_ELSE, OP_CHECKLOCKTIMEVERIFY, OP_DROP, OP_ENDIF, OP_CHECKSIG
        ):
            return None
        server, client = ops[1][1], ops[8][1]
        expiry = script_number(*ops[4], 0, MAX_LOCKTIME, max_size=5)
        if server is None or client is None or not (is_pubkey(server) and is_pubkey(client)) or expiry is None:
            return None
        t = cls(client, server, Expiry(expiry))
        return t if t.script == script else None
