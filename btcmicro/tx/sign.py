"""Signature hashes (legacy and BIP143) and ECDSA input signing with coincurve."""
from __future__ import annotations

import struct
from collections.abc import Sequence

from bitcoin.core import CMutableTransaction, CTransaction, CTxInWitness, CTxWitness
from bitcoin.core.script import SIGVERSION_BASE, CScript, CScriptWitness, SignatureHash

from btcmicro.core.encoding import compact_size
from btcmicro.core.hashes import hash160, hash256
from btcmicro.core.keys import PrivateKey, verify_der
from btcmicro.script.standard import p2pkh, push_data, solve

__all__ = [
    "SIGHASH_ALL",
    "SIGHASH_NONE",
    "SIGHASH_SINGLE",
    "SIGHASH_ANYONECANPAY",
    "sighash",
    "sign_input",
    "verify_input_signature",
    "p2wpkh_witness",
    "p2pkh_script_sig",
    "sign_p2wpkh",
    "sign_p2pkh",
    "sign_tx",
]

SIGHASH_ALL = 0x01
SIGHASH_NONE = 0x02
SIGHASH_SINGLE = 0x03
SIGHASH_ANYONECANPAY = 0x80
_VALID_HASHTYPES = {1, 2, 3, 0x81, 0x82, 0x83}


def _bip143(tx: CTransaction, i: int, script_code: bytes, amount: int, hashtype: int) -> bytes:
    base = hashtype & 0x1F
    acp = bool(hashtype & SIGHASH_ANYONECANPAY)
    zero = b"\x00" * 32
    hash_prevouts = zero if acp else hash256(b"".join(t.prevout.serialize() for t in tx.vin))
    hash_sequence = (
        zero if acp or base in (SIGHASH_SINGLE, SIGHASH_NONE)
        else hash256(b"".join(struct.pack("<I", t.nSequence) for t in tx.vin))
    )
    if base not in (SIGHASH_SINGLE, SIGHASH_NONE):
        hash_outputs = hash256(b"".join(o.serialize() for o in tx.vout))
    elif base == SIGHASH_SINGLE and i < len(tx.vout):
        hash_outputs = hash256(tx.vout[i].serialize())
    else:
        hash_outputs = zero
    txin = tx.vin[i]
    pre = (
        struct.pack("<i", tx.nVersion) + hash_prevouts + hash_sequence + txin.prevout.serialize()
        + compact_size(len(script_code)) + bytes(script_code) + struct.pack("<q", amount)
        + struct.pack("<I", txin.nSequence) + hash_outputs + struct.pack("<I", tx.nLockTime)
        + struct.pack("<I", hashtype)
    )
    return hash256(pre)


def sighash(
    tx: CTransaction, input_index: int, script_code: bytes, amount: int, hashtype: int = SIGHASH_ALL,
    segwit: bool = True,
) -> bytes:
    """The 32-byte digest an input signature commits to (BIP143 if ``segwit``, else legacy).

    ``script_code``: for P2WPKH the P2PKH script of the key hash; for P2WSH/P2SH the witness/redeem script.
    Legacy SIGHASH_SINGLE without a matching output is refused (ValueError).
    """
    if not 0 <= input_index < len(tx.vin):
        raise ValueError(f"input index {input_index} out of range")
    if segwit:
        return _bip143(tx, input_index, script_code, amount, hashtype)
    if (hashtype & 0x1F) == SIGHASH_SINGLE and input_index >= len(tx.vout):
        raise ValueError("SIGHASH_SINGLE without a matching output")
    return bytes(SignatureHash(CScript(script_code), tx, input_index, hashtype, sigversion=SIGVERSION_BASE))


def sign_input(
    privkey: PrivateKey, tx: CTransaction, input_index: int, script_code: bytes, amount: int,
    hashtype: int = SIGHASH_ALL, segwit: bool = True,
) -> bytes:
    """DER low-S signature || hashtype byte for one input."""
    if hashtype not in _VALID_HASHTYPES:
        raise ValueError(f"undefined sighash type {hashtype:#x}")
    digest = sighash(tx, input_index, script_code, amount, hashtype, segwit)
    return privkey.sign(digest) + bytes([hashtype])


def verify_input_signature(
    pubkey: bytes, sig: bytes, tx: CTransaction, input_index: int, script_code: bytes, amount: int,
    segwit: bool = True,
) -> bool:
    """Check a DER||hashtype signature for one input (low-S required)."""
    if len(sig) < 2 or sig[-1] not in _VALID_HASHTYPES:
        return False
    digest = sighash(tx, input_index, script_code, amount, sig[-1], segwit)
    return verify_der(pubkey, sig[:-1], digest)


def p2wpkh_witness(sig: bytes, pubkey: bytes) -> list[bytes]:
    """Witness stack spending P2WPKH."""
    return [sig, pubkey]


def p2pkh_script_sig(sig: bytes, pubkey: bytes) -> CScript:
    """scriptSig spending P2PKH."""
    return CScript(push_data(sig) + push_data(pubkey))


def _set_witness(tx: CMutableTransaction, i: int, stack: Sequence[bytes]) -> None:
    wits = list(tx.wit.vtxinwit) + [CTxInWitness()] * (len(tx.vin) - len(tx.wit.vtxinwit))
    wits[i] = CTxInWitness(CScriptWitness(list(stack)))
    tx.wit = CTxWitness(wits)


def sign_p2wpkh(
    tx: CMutableTransaction, input_index: int, privkey: PrivateKey, amount: int, hashtype: int = SIGHASH_ALL
) -> None:
    """Sign a P2WPKH input in place (sets its witness)."""
    sig = sign_input(privkey, tx, input_index, p2pkh(privkey.hash160), amount, hashtype, segwit=True)
    _set_witness(tx, input_index, p2wpkh_witness(sig, privkey.pubkey))


def sign_p2pkh(tx: CMutableTransaction, input_index: int, privkey: PrivateKey, hashtype: int = SIGHASH_ALL) -> None:
    """Sign a P2PKH input in place (sets its scriptSig)."""
    sig = sign_input(privkey, tx, input_index, p2pkh(privkey.hash160), 0, hashtype, segwit=False)
    tx.vin[input_index].scriptSig = p2pkh_script_sig(sig, privkey.pubkey)


def sign_tx(
    tx: CTransaction,
    spent: Sequence[tuple[bytes, int]],
    keys: Sequence[PrivateKey | None],
    hashtype: int = SIGHASH_ALL,
) -> CMutableTransaction:
    """A copy of ``tx`` with every single-key P2WPKH/P2PKH input signed.

    ``spent[i]`` is (scriptPubKey, amount) of the output input ``i`` spends; ``keys[i]`` its key
    (None leaves the input untouched). A key that does not match its scriptPubKey raises ValueError.
    """
    if len(spent) != len(tx.vin) or len(keys) != len(tx.vin):
        raise ValueError("need one spent output and one key (or None) per input")
    mtx = CMutableTransaction.from_tx(tx)
    for i, ((spk, amount), key) in enumerate(zip(spent, keys, strict=True)):
        if key is None:
            continue
        kind, sol = solve(spk)
        if kind not in ("witness_v0_keyhash", "pubkeyhash"):
            raise ValueError(f"input {i}: cannot sign {kind} with a single key here")
        if sol[0] != hash160(key.pubkey):
            raise ValueError(f"input {i}: key does not match the spent scriptPubKey")
        if kind == "witness_v0_keyhash":
            sign_p2wpkh(mtx, i, key, amount, hashtype)
        else:
            sign_p2pkh(mtx, i, key, hashtype)
    return mtx
