"""P-B, MicroCash's trustless penalty (SCHEMES.md §0.3 BB7 P-B and BB4(b), §5.5, §9 item 8).

The penalty output is :class:`~btcmicro.lottery.microcash.templates.MicrocashBurnEscrow`::

    IF <P_tkt> CHECKSIGVERIFY m <B_1> .. <B_m> m CHECKMULTISIG      (m = 1: <B_1> CHECKSIG)
    ELSE <t_refund> CHECKLOCKTIMEVERIFY DROP <C> CHECKSIG ENDIF

No notary can spend it. MuSig2 is not in our libraries, so P_burn is a script multisig of m ephemeral
burn keys (one per merchant, or N's single key): each holder makes a fresh :class:`BurnKey`, signs
the one burn transaction (:func:`burn_tx`: the whole penalty less the fee fixed at setup to
``OP_RETURN "MCBURN" ‖ SHA256(canonical params)``, SIGHASH_ALL) and deletes the key. The signatures
are published; merchants check them (:func:`check_presigned`) before they serve the escrow. With
every B_i's signature fixed to that one transaction, whoever learns sk_tkt can complete **only the
burn**; trust: at least one holder really deleted its key (else the holders and C, together, could
sign another spend).

Tickets are the same 110 bytes, signed with BIP340 under P_tkt on the same digest, but with the
nonce committed for their seqno (BB4(b), :class:`~btcmicro.crypto.assertions.NonceSecretKey`'s nonces
and Merkle tree: k_seqno = HMAC(seed, seqno), R_seqno = k_seqno·G, the root in the parameters and so
in the MCSH commitment). Two different tickets for one seqno then share R, and
:func:`extract_ticket_key` computes sk_tkt = (s1 − s2)/(e1 − e2): anyone completes the pre-signed burn
(:func:`complete_burn`), broadcast with maxburnamount. Honest tickets (one per seqno) reveal nothing.

How a merchant checks R: it caches the R list (:class:`NonceList`, 32 bytes per seqno of the escrow,
rounded up to a power of two) that C publishes with the parameters, checks its Merkle root once, and
then compares the ticket's first 32 signature bytes with R_seqno: one comparison per ticket and tickets
stay 110 bytes. A Merkle path in each ticket instead would add 32·log2(seqnos) bytes per ticket (544 B
at 2^17 seqnos, about six times the ticket) and a path check to every verification; the list costs
2^17·32 B = 4 MiB once per escrow at that size (512 B in the tests' 16 seqnos). Limits: at most 2^20
seqnos (NonceSecretKey's bound); out-of-range tickets have no committed nonce and are refused, with no
penalty; a duplicated winner is not paid from a P-B penalty (it all burns).
"""
from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from bitcoin.core import CMutableTransaction

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto import secp256k1 as k1
from btcmicro.crypto.assertions import NonceSecretKey, nonce_root
from btcmicro.lottery.microcash.escrow import Escrow, burn_script, unsigned_spend
from btcmicro.lottery.microcash.messages import Proof, Ticket
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.templates import MicrocashBurnEscrow
from btcmicro.tx.sign import SIGHASH_ALL, verify_input_signature

__all__ = [
    "TicketKey",
    "ticket_secret",
    "new_salt",
    "NonceList",
    "BurnKey",
    "burn_tx",
    "check_presigned",
    "extract_ticket_key",
    "complete_burn",
    "burn_from_proof",
]


def new_salt() -> bytes:
    """A fresh per-escrow ticket salt."""
    return secrets.token_bytes(32)


def nonce_bits(max_seqno: int) -> int:
    return max(1, (max_seqno - 1).bit_length())


_TICKET_KEY_TAG = "btcmicro/microcash/ticket-key/v1"


def ticket_secret(customer: PrivateKey, salt: bytes) -> PrivateKey:
    """sk_tkt of the escrow whose parameters carry ``salt``: a tagged hash of C's secret and the salt
    (one key, so one nonce per seqno, per escrow)."""
    if len(salt) != 32:
        raise ConfigError("a ticket salt is 32 bytes")
    data = customer.to_bytes() + salt
    while True:
        data = k1.tagged_hash(_TICKET_KEY_TAG, data)
        if 0 < int.from_bytes(data, "big") < k1.ORDER:
            return PrivateKey.from_bytes(data)


class TicketKey(NonceSecretKey):
    """C's ticket key sk_tkt under P-B: a BB4(b) nonce-committed key whose contexts are the seqnos.

    One ticket key must serve one escrow only: seqno s signed on two escrows is two signatures with
    one nonce, which reveal sk_tkt. :meth:`derive` makes the escrow's own key from C's key and the salt
    committed in its parameters (a fresh salt per escrow: :func:`new_salt`), and the customer keeps its
    seqno counter per ticket key, so even parameters that repeat a salt never get a seqno twice."""

    def __init__(self, key: PrivateKey, max_seqno: int) -> None:
        super().__init__(int.from_bytes(key.to_bytes(), "big"), nonce_bits(max_seqno))
        self.key = key

    @classmethod
    def derive(cls, customer: PrivateKey, salt: bytes, max_seqno: int) -> TicketKey:
        """The ticket key of the escrow whose ``ticket_salt`` is ``salt``."""
        return cls(ticket_secret(customer, salt), max_seqno)

    @property
    def pubkey(self) -> bytes:
        """P_tkt (33 bytes)."""
        return self.public_key.point

    @property
    def nonce_root(self) -> bytes:
        return self.public_key.nonce_root

    def nonce_points(self) -> list[bytes]:
        """The R list C publishes: x(R_seqno) for every leaf of the nonce tree."""
        out = []
        for seqno in range(1 << self.context_bits):
            point = k1.base_mul(self._nonce(seqno))
            assert point is not None
            out.append(k1.point_to_bytes(point)[1:])
        return out

    def issue(self, genesis: bytes, index: int, id_esc: bytes, seqno: int) -> Ticket:
        """The ticket for ``seqno``, signed with R_seqno (never sign two different ones: that is the point)."""
        if not 0 <= seqno < 1 << self.context_bits:
            raise ConfigError(f"seqno {seqno} has no committed nonce")
        body = Ticket.body(index, id_esc, seqno)
        sig = k1.schnorr_sign_with_nonce(self._secret, self._nonce(seqno), Ticket.digest_of(genesis, body))
        return Ticket(index, id_esc, seqno, sig)


@dataclass(frozen=True)
class NonceList:
    """A merchant's cached R list of one P-B escrow, checked against the parameters' root."""

    points: tuple[bytes, ...]

    @classmethod
    def checked(cls, params: Params, points: Sequence[bytes]) -> NonceList:
        """The list C published for ``params``; ConfigError unless it has one 32-byte x per leaf and
        its Merkle root is the committed one."""
        if not params.trustless:
            raise ConfigError("these parameters have no committed nonces (not P-B)")
        pts = tuple(bytes(x) for x in points)
        if len(pts) != 1 << params.nonce_bits or any(len(x) != 32 for x in pts):
            raise ConfigError(f"the R list must have {1 << params.nonce_bits} 32-byte entries")
        if not hmac.compare_digest(nonce_root(pts), params.nonce_root):
            raise ConfigError("the R list does not match the committed nonce root")
        return cls(pts)

    def encode(self) -> bytes:
        return b"".join(self.points)

    @staticmethod
    def split(data: bytes) -> list[bytes]:
        if len(data) % 32:
            raise ProtocolError("MALFORMED", "an R list is 32 bytes per entry")
        return [data[i:i + 32] for i in range(0, len(data), 32)]

    def committed(self, t: Ticket) -> bool:
        """Whether the ticket's nonce is R_seqno (its signature itself is checked apart)."""
        return t.seqno < len(self.points) and hmac.compare_digest(t.sig[:32], self.points[t.seqno])


# --- the pre-signed burn -------------------------------------------------------------------------


def _penalty(escrow: Escrow) -> tuple[MicrocashBurnEscrow, int, int]:
    tmpl, vout, value = escrow.penalty_output
    if not isinstance(tmpl, MicrocashBurnEscrow):
        raise ConfigError("this escrow's penalty is N's (P-N), not a pre-signed burn")
    return tmpl, vout, value


def burn_tx(escrow: Escrow) -> CMutableTransaction:
    """The one burn, unsigned: the penalty output less ``burn_fee`` to ``OP_RETURN "MCBURN" ‖
    SHA256(params)``; everyone builds the same bytes from the escrow alone."""
    tmpl, vout, value = _penalty(escrow)
    return unsigned_spend(tmpl, escrow.txid, vout, value, "burn", [], fee=escrow.params.burn_fee,
                          change_spk=burn_script(escrow.params.digest))


class BurnKey:
    """An ephemeral burn key: made fresh, it pre-signs the burn once and forgets its secret."""

    def __init__(self) -> None:
        self._key: PrivateKey | None = PrivateKey.generate()
        self.pubkey = self._key.pubkey

    @property
    def deleted(self) -> bool:
        return self._key is None

    def presign(self, escrow: Escrow) -> bytes:
        """This key's signature on :func:`burn_tx`; the key is dropped afterwards (a Python object
        cannot promise the bytes left memory: a holder who must be trusted runs this in a process it
        then ends)."""
        if self._key is None:
            raise ConfigError("this burn key was deleted after pre-signing")
        if self.pubkey not in escrow.params.burn_keys:
            raise ConfigError("this burn key is not one of the escrow's")
        tmpl, _, value = _penalty(escrow)
        sig = tmpl.sign(self._key, burn_tx(escrow), 0, value)
        self._key = None
        return sig


def check_presigned(escrow: Escrow, sigs: Sequence[bytes]) -> None:
    """What a merchant checks before serving a P-B escrow: one valid SIGHASH_ALL signature per burn key,
    in key order, on :func:`burn_tx` (ConfigError otherwise). Any other sighash type (NONE, SINGLE,
    ANYONECANPAY) leaves outputs or inputs free, and C always holds sk_tkt: it could redirect the penalty."""
    tmpl, _, value = _penalty(escrow)
    keys = escrow.params.burn_keys
    if len(sigs) != len(keys):
        raise ConfigError(f"{len(keys)} burn pre-signatures are needed, got {len(sigs)}")
    tx = burn_tx(escrow)
    for i, (key, sig) in enumerate(zip(keys, sigs, strict=True)):
        if bytes(sig[-1:]) != bytes([SIGHASH_ALL]):
            raise ConfigError(f"burn pre-signature {i} is not SIGHASH_ALL")
        try:
            ok = verify_input_signature(key, bytes(sig), tx, 0, tmpl.script, value, segwit=True)
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError(f"burn pre-signature {i} does not verify on the burn transaction")


def extract_ticket_key(params: Params, genesis: bytes, first: Ticket, second: Ticket) -> PrivateKey | None:
    """sk_tkt from two different valid tickets signed with one nonce (a duplicate under P-B): the
    BB4(b) extraction d = (s1 − s2)/(e1 − e2), signed to match P_tkt; None when they share no nonce
    (two honest tickets, or a nonce that was not the committed one)."""
    if not params.trustless or first == second:
        return None
    key = params.ticket_key
    if not (first.verify(key, genesis) and second.verify(key, genesis)) or first.sig[:32] != second.sig[:32]:
        return None
    e1, e2 = (k1.schnorr_challenge(t.sig[:32], key[1:], t.digest(genesis)) for t in (first, second))
    if e1 == e2:  # pragma: no cover - a SHA-256 collision
        return None
    s1, s2 = (int.from_bytes(t.sig[32:], "big") for t in (first, second))
    d = (s1 - s2) * pow(e1 - e2, -1, k1.ORDER) % k1.ORDER
    for candidate in (d, k1.ORDER - d):
        secret = PrivateKey.from_bytes(candidate.to_bytes(32, "big"))
        if secret.pubkey == key:
            return secret
    return None  # pragma: no cover - valid signatures always give ±sk


def complete_burn(escrow: Escrow, presigs: Sequence[bytes], ticket_key: PrivateKey) -> CMutableTransaction:
    """The pre-signed burn completed with the (extracted) ticket key's signature: ready to broadcast
    with maxburnamount = its one output's value."""
    check_presigned(escrow, presigs)
    tmpl, _, value = _penalty(escrow)
    if ticket_key.pubkey != escrow.params.ticket_key:
        raise ConfigError("that is not the ticket key")
    tx = burn_tx(escrow)
    return tmpl.burn(tmpl.sign(ticket_key, tx, 0, value), *presigs).apply(tx, 0)


def burn_from_proof(escrow: Escrow, presigs: Sequence[bytes], genesis: bytes, proof: Proof) -> CMutableTransaction:
    """What anyone holding a duplicate does under P-B: extract sk_tkt and complete the burn
    (``BAD_PROOF`` when the proof reveals no key)."""
    key = None if proof.second is None else extract_ticket_key(escrow.params, genesis, proof.first, proof.second)
    if key is None:
        raise ProtocolError("BAD_PROOF", "the proof reveals no ticket key (not two tickets on one committed nonce)")
    return complete_burn(escrow, presigs, key)
