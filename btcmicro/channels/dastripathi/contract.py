"""One Das–Tripathi channel's transactions, as both parties derive them from the agreed terms.

The escrow output holds ``d + fee`` (plus the penalty p in Micropay 2): ``d`` is what payments may
reach, ``fee`` pays the close transaction and is fixed at set-up, so every payment transaction is
fully determined by its cumulative amount b and the payer signs it SIGHASH_ALL:

- **payment(b)**: version 2, locktime 0, input the escrow (sequence 0xFFFFFFFD), output 0 ``b`` to
  the merchant, output 1 the rest less the fee back to the payer (omitted when dust);
- **penalty** (Micropay 2): the whole escrow less the fee to the merchant, signed with the
  payer's extracted key and the merchant's;
- **refund**: nLockTime = t, sequence 0xFFFFFFFE, the whole escrow less its fee to the payer, pk_2.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CTransaction, b2lx
from bitcoin.core.script import CScript

from btcmicro.channels.dastripathi.messages import Open
from btcmicro.channels.dastripathi.templates import DasTripathiChannel
from btcmicro.contracts import Expiry
from btcmicro.core.errors import PolicyError, ProtocolError
from btcmicro.core.keys import PrivateKey, is_low_s, verify_der
from btcmicro.ports import Chain
from btcmicro.script.standard import is_valid_der_signature
from btcmicro.tx.build import SEQUENCE_LOCKTIME_ONLY, SEQUENCE_RBF
from btcmicro.tx.policy import dust_threshold
from btcmicro.tx.sign import SIGHASH_ALL

__all__ = ["ChannelTerms", "txid_of", "from_height", "WRAPPING"]

WRAPPING = "p2wsh"


def txid_of(tx: CTransaction) -> str:
    return str(b2lx(tx.GetTxid()))


def from_height(chain: Chain, txid: str) -> int:
    """Where to look for a spend of ``txid``'s outputs: the block that confirmed it (else the tip)."""
    status = chain.get_tx(txid)
    return status.block_height if status is not None and status.block_height is not None else chain.height()


@dataclass(frozen=True)
class ChannelTerms:
    """What payer and merchant agreed on; derives the script and every transaction."""

    escrow_txid: bytes  # internal byte order
    escrow_vout: int
    escrow_key: bytes
    merchant_key: bytes
    refund_key: bytes
    deposit: int
    fee: int
    expiry: int
    payer_spk: bytes
    merchant_spk: bytes
    penalty: int = 0
    assertion_key: bytes = b""
    ring: tuple[bytes, ...] = ()

    @classmethod
    def of(cls, m: Open, merchant_key: bytes, merchant_spk: bytes) -> ChannelTerms:
        return cls(m.escrow_txid, m.escrow_vout, m.escrow_key, merchant_key, m.refund_key, m.deposit, m.fee,
                   m.expiry, m.payer_spk, merchant_spk, m.penalty, m.assertion_key, m.ring)

    def open_message(self) -> Open:
        return Open(self.escrow_txid, self.escrow_vout, self.escrow_key, self.refund_key, self.deposit, self.fee,
                    self.expiry, self.payer_spk, self.assertion_key, self.penalty, self.ring)

    @cached_property
    def template(self) -> DasTripathiChannel:
        return DasTripathiChannel(self.escrow_key, self.merchant_key, self.refund_key, Expiry.height(self.expiry))

    @property
    def escrow_id(self) -> str:
        """``txid:vout`` of the escrow (display-order txid)."""
        return f"{b2lx(self.escrow_txid)}:{self.escrow_vout}"

    @property
    def escrow_spk(self) -> bytes:
        return self.template.script_pubkey(WRAPPING)

    @property
    def value(self) -> int:
        """The escrow output's value: d + p + fee."""
        return self.deposit + self.penalty + self.fee

    def _input(self, sequence: int) -> CMutableTxIn:
        return CMutableTxIn(COutPoint(self.escrow_txid, self.escrow_vout), CScript(), sequence)

    # --- payments ------------------------------------------------------------------------------

    def payment_tx(self, paid: int) -> CMutableTransaction:
        """The transaction paying the merchant ``paid`` cumulatively (0 < paid <= d)."""
        if not 0 < paid <= self.deposit:
            raise PolicyError(f"a payment is 1..{self.deposit} sats, not {paid}")
        vout = [CMutableTxOut(paid, CScript(self.merchant_spk))]
        rest = self.value - self.fee - paid
        if rest >= dust_threshold(self.payer_spk):
            vout.append(CMutableTxOut(rest, CScript(self.payer_spk)))
        return CMutableTransaction([self._input(SEQUENCE_RBF)], vout, 0, 2)

    def sign(self, key: PrivateKey, tx: CTransaction) -> bytes:
        return self.template.sign(key, tx, 0, self.value, WRAPPING, SIGHASH_ALL)

    def check_signature(self, pubkey: bytes, signature: bytes, tx: CTransaction, what: str) -> None:
        """``ProtocolError("BAD_SIGNATURE")`` unless ``signature`` is ``pubkey``'s low-S DER
        SIGHASH_ALL signature of ``tx`` spending the escrow."""
        if (not signature or signature[-1] != SIGHASH_ALL or not is_valid_der_signature(signature)
                or not is_low_s(signature[:-1])):
            raise ProtocolError("BAD_SIGNATURE", f"{what}: not a strict low-S DER SIGHASH_ALL signature")
        digest = self.template.sighash(tx, 0, self.value, WRAPPING, SIGHASH_ALL)
        if not verify_der(pubkey, signature[:-1], digest):
            raise ProtocolError("BAD_SIGNATURE", f"{what}: signature does not verify")

    def complete(self, tx: CMutableTransaction, escrow_sig: bytes, merchant_key: PrivateKey) -> CTransaction:
        """``tx`` (spending the escrow by branch 1) with the merchant's signature added."""
        merchant_sig = self.sign(merchant_key, tx)
        self.template.close(escrow_sig, merchant_sig, WRAPPING).apply(tx, 0)
        return CTransaction.from_tx(tx)

    def close_tx(self, paid: int, escrow_sig: bytes, merchant_key: PrivateKey) -> CTransaction:
        return self.complete(self.payment_tx(paid), escrow_sig, merchant_key)

    def penalty_tx(self, escrow_key: PrivateKey, merchant_key: PrivateKey) -> CTransaction:
        """Micropay 2: the whole escrow less the fee to the merchant, signed with the payer's
        (extracted) escrow key and the merchant's."""
        tx = CMutableTransaction([self._input(SEQUENCE_RBF)],
                                 [CMutableTxOut(self.value - self.fee, CScript(self.merchant_spk))], 0, 2)
        return self.complete(tx, self.sign(escrow_key, tx), merchant_key)

    # --- refund --------------------------------------------------------------------------------

    def refund_tx(self, refund_key: PrivateKey) -> CTransaction:
        """The payer's refund: valid in a block above height t (nLockTime = t)."""
        tx = CMutableTransaction([self._input(SEQUENCE_LOCKTIME_ONLY)],
                                 [CMutableTxOut(self.value - self.fee, CScript(self.payer_spk))], self.expiry, 2)
        sig = self.sign(refund_key, tx)
        self.template.refund(sig, WRAPPING).apply(tx, 0)
        return CTransaction.from_tx(tx)

    def is_refund(self, tx: CTransaction) -> bool:
        return bool(tx.nLockTime >= self.expiry and len(tx.vout) == 1
                    and bytes(tx.vout[0].scriptPubKey) == self.payer_spk)
