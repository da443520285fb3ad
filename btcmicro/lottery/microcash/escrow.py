"""The escrow creation transaction (SCHEMES.md §5.5) and the transactions that spend its outputs.

Creation, funded by the customer C, in this order::

    out 0 .. G−1   payment escrow: one output per draw group worth W·β + fee_reserve, each a
                   MicrocashEscrow(N, C, refund_height(g)), when groups <= 50; else one output worth
                   B_escrow + fee_reserve locked until t_refund
    out G          penalty escrow: MicrocashEscrow(N, C, t_refund), worth B_penalty + fee_reserve
                   (under P-B: MicrocashBurnEscrow(P_tkt, burn keys, C, t_refund))
    out G+1        OP_RETURN "MCSH" ‖ SHA256(canonical params)

id_esc is the outpoint of output 0 as an input serialises it (internal txid bytes, vout u32 LE).
:func:`check_creation` is what N and every merchant run before serving an escrow: the outputs are
exactly these, and the transaction confirmed before ``start_height``. With a federation every
MicrocashEscrow's first branch is the k-of-n CHECKMULTISIG of the notaries.
"""
from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from bitcoin.core import CMutableTransaction, CScript, CTransaction, b2lx, lx
from bitcoin.core.script import OP_RETURN

from btcmicro.contracts import Expiry
from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.lottery.microcash.params import Params
from btcmicro.lottery.microcash.store import EscrowBook
from btcmicro.lottery.microcash.templates import MicrocashBurnEscrow, MicrocashEscrow
from btcmicro.script.standard import p2wpkh
from btcmicro.tx.build import SEQUENCE_RBF, TxBuilder
from btcmicro.tx.sign import sign_p2wpkh

__all__ = [
    "PARAMS_MAGIC",
    "BURN_MAGIC",
    "PAYOUT_MAGIC",
    "EscrowOutputs",
    "Escrow",
    "layout",
    "params_commitment",
    "check_creation",
    "saved_escrows",
    "creation_tx",
    "creation_amount",
    "outpoint_bytes",
    "outpoint_of",
    "spend_tx",
    "unsigned_spend",
    "burn_script",
]

PARAMS_MAGIC = b"MCSH"
BURN_MAGIC = b"MCBURN"
PAYOUT_MAGIC = b"MCPAY"
FEERATE = 2_000  # sat/kvB for N's payouts, burns and C's refunds


def params_commitment(params: Params) -> bytes:
    """The creation's OP_RETURN scriptPubKey: ``OP_RETURN "MCSH" ‖ SHA256(canonical params)``."""
    return bytes(CScript([OP_RETURN, PARAMS_MAGIC + params.digest]))


def burn_script(proof_digest: bytes) -> bytes:
    """``OP_RETURN "MCBURN" ‖ SHA256(proof)``: the provably unspendable output the penalty goes to."""
    return bytes(CScript([OP_RETURN, BURN_MAGIC + proof_digest]))


def payout_commitment(tickets: Sequence[bytes]) -> bytes:
    """``OP_RETURN "MCPAY" ‖ SHA256(tickets paid, in output order)`` on every payout of N."""
    return bytes(CScript([OP_RETURN, PAYOUT_MAGIC + hashlib.sha256(b"".join(tickets)).digest()]))


@dataclass(frozen=True)
class EscrowOutputs:
    """The templates and values of a creation, in output order (the OP_RETURN last)."""

    payment: tuple[tuple[MicrocashEscrow, int], ...]
    penalty: tuple[MicrocashEscrow | MicrocashBurnEscrow, int]
    commitment: bytes

    def outputs(self) -> list[tuple[bytes, int]]:
        outs = [(t.script_pubkey(), v) for t, v in self.payment]
        outs.append((self.penalty[0].script_pubkey(), self.penalty[1]))
        outs.append((self.commitment, 0))
        return outs


def layout(params: Params) -> EscrowOutputs:
    """The outputs C's creation transaction must have, first to last."""
    def tmpl(height: int) -> MicrocashEscrow:
        return MicrocashEscrow(params.notary, params.customer, Expiry.height(height), params.notaries,
                               params.threshold)

    if params.split:
        payment = tuple((tmpl(params.refund_height(g)), params.group_budget + params.fee_reserve)
                        for g in range(params.groups))
    else:
        payment = ((tmpl(params.t_refund), params.b_escrow + params.fee_reserve),)
    penalty: MicrocashEscrow | MicrocashBurnEscrow = tmpl(params.t_refund)
    if params.trustless:
        penalty = MicrocashBurnEscrow(params.ticket_key, params.burn_keys, params.customer,
                                      Expiry.height(params.t_refund))
    return EscrowOutputs(payment, (penalty, params.b_penalty + params.fee_reserve), params_commitment(params))


def outpoint_bytes(txid: str, vout: int) -> bytes:
    """An outpoint as a transaction input serialises it: internal txid bytes, vout u32 LE (36 bytes)."""
    return bytes(lx(txid)) + struct.pack("<I", vout)


def outpoint_of(data: bytes) -> tuple[str, int]:
    if len(data) != 36:
        raise ProtocolError("bad_outpoint", "an outpoint is 36 bytes")
    return b2lx(data[:32]), struct.unpack("<I", data[32:])[0]


@dataclass(frozen=True)
class Escrow:
    """A created escrow: its parameters and the creation's txid."""

    params: Params
    txid: str

    @property
    def outputs(self) -> EscrowOutputs:
        return layout(self.params)

    @property
    def id_esc(self) -> bytes:
        return outpoint_bytes(self.txid, 0)

    def group_output(self, g: int) -> tuple[MicrocashEscrow, int, int]:
        """(template, vout, value) of the payment output that pays group ``g``."""
        if not 0 <= g < self.params.groups:
            raise ConfigError(f"no draw group {g}")
        vout = g if self.params.split else 0
        t, v = self.outputs.payment[vout]
        return t, vout, v

    @property
    def penalty_vout(self) -> int:
        return len(self.outputs.payment)

    @property
    def penalty_output(self) -> tuple[MicrocashEscrow | MicrocashBurnEscrow, int, int]:
        t, v = self.outputs.penalty
        return t, self.penalty_vout, v


def creation_amount(params: Params) -> int:
    """What C's funding coin should hold: every escrow output plus a generous creation fee."""
    return sum(v for _, v in layout(params).outputs()) + 5_000


def creation_tx(params: Params, customer: PrivateKey, coins: Sequence[tuple[str, int, int]],
                change_spk: bytes | None = None) -> CMutableTransaction:
    """C's signed creation transaction spending C's own P2WPKH ``coins`` ((txid, vout, amount)), so
    the inputs are provably C's (§4.1's first check); change to ``change_spk`` (default: C's P2WPKH)."""
    own = p2wpkh(customer.pubkey)
    b = TxBuilder()
    for txid, vout, amount in coins:
        b.add_input(txid, vout, amount, own, SEQUENCE_RBF)
    for spk, value in layout(params).outputs():
        b.add_output(spk, value)
    built = b.build(change_spk=own if change_spk is None else change_spk, feerate=FEERATE)
    tx = built.tx
    for i, (_, _, amount) in enumerate(coins):
        sign_p2wpkh(tx, i, customer, amount)
    return tx


def saved_escrows(book: EscrowBook) -> dict[bytes, Escrow]:
    """The escrows a party's store remembers serving, by id_esc: what a restarted N or merchant serves."""
    escrows = (Escrow(Params.from_canonical(params), txid) for params, txid in book.saved_escrows())
    return {e.id_esc: e for e in escrows}


def check_creation(params: Params, tx: CTransaction, confirmed_height: int | None) -> Escrow:
    """The creation checks of N and the merchants (§4.1, §5.5): ConfigError unless ``tx`` creates
    exactly :func:`layout`'s outputs first and was confirmed below ``start_height``."""
    want = layout(params).outputs()
    got = [(bytes(o.scriptPubKey), int(o.nValue)) for o in tx.vout[:len(want)]]
    if got != want:
        raise ConfigError("the creation's outputs are not the escrow these parameters define")
    if confirmed_height is None:
        raise ConfigError("the escrow creation is not confirmed")
    if confirmed_height >= params.start_height:
        raise ConfigError(f"the escrow confirmed at {confirmed_height}, not before round 0 at "
                          f"{params.start_height}")
    return Escrow(params, b2lx(tx.GetTxid()))


def spend_tx(template: MicrocashEscrow | MicrocashBurnEscrow, txid: str, vout: int, amount: int, path: str,
             key: PrivateKey, outputs: Sequence[tuple[bytes, int]], *, change: bool = False, locktime: int = 0,
             fee: int | None = None, change_spk: bytes | None = None) -> CMutableTransaction:
    """A signed transaction spending one escrow output by ``path`` (``pay`` by N, ``refund`` by C)
    to ``outputs``; with ``change`` the rest (less the fee) returns to the same escrow script, or goes
    to ``change_spk`` (the burn's OP_RETURN) when given. A one-signature path only (a federation's
    members sign :func:`unsigned_spend`'s transaction each)."""
    tx = unsigned_spend(template, txid, vout, amount, path, outputs, change=change, locktime=locktime, fee=fee,
                        change_spk=change_spk)
    sig = template.sign(key, tx, 0, amount)
    return template.spend(path, sig).apply(tx, 0)


def unsigned_spend(template: MicrocashEscrow | MicrocashBurnEscrow, txid: str, vout: int, amount: int, path: str,
                   outputs: Sequence[tuple[bytes, int]], *, change: bool = False, locktime: int = 0,
                   fee: int | None = None, change_spk: bytes | None = None) -> CMutableTransaction:
    """:func:`spend_tx`'s transaction before its signatures: the same bytes for everyone who builds it
    from the same outputs (the fee is sized for the path's signatures at their largest)."""
    b = TxBuilder()
    b.inputs.append(template.input(txid, vout, amount, path, sequence=SEQUENCE_RBF))
    for spk, value in outputs:
        b.add_output(spk, value)
    if locktime:
        b.set_locktime(locktime)
    if change_spk is None and change:
        change_spk = template.script_pubkey()
    return b.build(change_spk=change_spk, feerate=FEERATE, fee=fee).tx
