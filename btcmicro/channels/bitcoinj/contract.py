"""One channel's transactions as both parties build them: deposit output, refund, payment, close.

A :class:`ChannelContract` is everything two parties agreed on (version, keys, expiry, deposit
outpoint and value, the client's change script); both sides derive the same transactions from it,
so only the client's change value and signature travel with a payment.

- **payment** (bitcoinj's template): version 1, locktime 0, input 0 the deposit (sequence
  0xFFFFFFFD, so the settlement can be fee-bumped on any Core version), output 0 the client's change;
  the client signs SINGLE|ANYONECANPAY, or NONE|ANYONECANPAY with no change left.
- **close**: the payment plus the server's output (deposit - change - fee), signed ALL by the server.
- **refund**: nLockTime = expiry, sequence 0xFFFFFFFE, one output back to the client.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from bitcoin.core import CMutableTransaction, CMutableTxIn, CMutableTxOut, COutPoint, CTransaction, b2lx, lx
from bitcoin.core.script import CScript

from btcmicro.channels.bitcoinj.templates import BitcoinjV1Channel, BitcoinjV2Channel
from btcmicro.contracts import Expiry, Template
from btcmicro.core.errors import PolicyError, ProtocolError
from btcmicro.core.keys import PrivateKey, is_low_s, verify_der
from btcmicro.script.standard import is_valid_der_signature, p2pkh, p2wpkh
from btcmicro.tx.build import SEQUENCE_LOCKTIME_ONLY, SEQUENCE_RBF, BuiltTx, TxBuilder
from btcmicro.tx.policy import dust_threshold
from btcmicro.tx.sign import SIGHASH_ALL, SIGHASH_ANYONECANPAY, SIGHASH_NONE, SIGHASH_SINGLE

__all__ = [
    "WRAPPINGS",
    "PAYMENT_TX_VERSION",
    "PAYMENT_SEQUENCE",
    "REFUND_SEQUENCE",
    "SINGLE_ANYONECANPAY",
    "NONE_ANYONECANPAY",
    "ChannelContract",
    "client_change_script",
    "decode_tx",
    "txid_of",
]

#: How each version wraps its deposit script.
WRAPPINGS = {1: "bare", 2: "p2sh", 3: "p2wsh"}
PAYMENT_TX_VERSION = 1
PAYMENT_SEQUENCE = SEQUENCE_RBF
REFUND_SEQUENCE = SEQUENCE_LOCKTIME_ONLY
SINGLE_ANYONECANPAY = SIGHASH_SINGLE | SIGHASH_ANYONECANPAY
NONE_ANYONECANPAY = SIGHASH_NONE | SIGHASH_ANYONECANPAY


def client_change_script(version: int, client_key: bytes) -> bytes:
    """Where the client's change and refund go: P2PKH of its channel key (bitcoinj, versions 1
    and 2) or P2WPKH (version 3)."""
    return bytes(p2wpkh(client_key) if version == 3 else p2pkh(client_key))


def decode_tx(raw: bytes, what: str) -> CTransaction:
    """A transaction from a peer; ``ProtocolError("BAD_TRANSACTION")`` if it does not parse exactly."""
    try:
        tx = CTransaction.deserialize(raw)
    except Exception as e:
        raise ProtocolError("BAD_TRANSACTION", f"{what} does not parse: {str(e)[:80]}") from None
    if tx.serialize() != raw:
        raise ProtocolError("BAD_TRANSACTION", f"{what} is not canonically serialized")
    if not tx.vin or not tx.vout:
        raise ProtocolError("BAD_TRANSACTION", f"{what} has no inputs or no outputs")
    return tx


def txid_of(tx: CTransaction) -> str:
    return str(b2lx(tx.GetTxid()))


@dataclass(frozen=True)
class ChannelContract:
    """What a channel's two parties agreed on; derives its scripts and transactions."""

    version: int
    client_key: bytes
    server_key: bytes
    expiry: int
    deposit_txid: str
    deposit_vout: int
    value: int
    client_spk: bytes

    @cached_property
    def template(self) -> Template:
        if self.version == 1:
            return BitcoinjV1Channel(self.client_key, self.server_key)
        return BitcoinjV2Channel(self.client_key, self.server_key, Expiry(self.expiry))

    @property
    def wrapping(self) -> str:
        return WRAPPINGS[self.version]

    @property
    def deposit_spk(self) -> bytes:
        return self.template.script_pubkey(self.wrapping)

    @property
    def expiry_is_height(self) -> bool:
        return Expiry(self.expiry).is_height

    @property
    def dust_limit(self) -> int:
        """The smallest non-zero change the client may keep."""
        return dust_threshold(self.client_spk)

    # --- payments ----------------------------------------------------------------------------

    def _outpoint_input(self, sequence: int) -> CMutableTxIn:
        return CMutableTxIn(COutPoint(lx(self.deposit_txid), self.deposit_vout), CScript(), sequence)

    def payment_tx(self, change: int) -> CMutableTransaction:
        """The transaction a payment signature covers (input 0, and output 0 when change > 0)."""
        vout = [CMutableTxOut(change, CScript(self.client_spk))] if change > 0 else []
        return CMutableTransaction([self._outpoint_input(PAYMENT_SEQUENCE)], vout, 0, PAYMENT_TX_VERSION)

    @staticmethod
    def payment_hashtype(change: int) -> int:
        return SINGLE_ANYONECANPAY if change > 0 else NONE_ANYONECANPAY

    def round_change(self, change: int) -> int:
        """The change a client keeps: below dust it gives the rest to the server."""
        return 0 if change < self.dust_limit else change

    def sign_payment(self, key: PrivateKey, change: int) -> bytes:
        """The client's signature of a payment leaving it ``change`` sats."""
        return self.template.sign(key, self.payment_tx(change), 0, self.value, self.wrapping,
                                  self.payment_hashtype(change))

    def check_payment(self, change: int, signature: bytes) -> None:
        """Raise ``ProtocolError("BAD_TRANSACTION")`` unless ``signature`` is the client's valid
        signature of a payment leaving it ``change`` (0 or non-dust, at most the deposit)."""
        if change < 0:
            raise ProtocolError("BAD_TRANSACTION", f"payment above the deposit: change {change} is negative")
        if change > self.value:
            raise ProtocolError("BAD_TRANSACTION", f"change {change} exceeds the deposit of {self.value}")
        if 0 < change < self.dust_limit:
            raise ProtocolError("BAD_TRANSACTION",
                                f"change {change} is dust (below {self.dust_limit}): round it to 0")
        want = self.payment_hashtype(change)
        if signature[-1] != want:
            raise ProtocolError("BAD_TRANSACTION",
                                f"payment signed with sighash {signature[-1]:#04x}, expected {want:#04x}")
        self._check_signature(self.client_key, signature, self.payment_tx(change), "payment")

    def _check_signature(self, pubkey: bytes, signature: bytes, tx: CTransaction, what: str) -> None:
        if not is_valid_der_signature(signature) or not is_low_s(signature[:-1]):
            raise ProtocolError("BAD_TRANSACTION", f"{what} signature is not strict low-S DER")
        digest = self.template.sighash(tx, 0, self.value, self.wrapping, signature[-1])
        if not verify_der(pubkey, signature[:-1], digest):
            raise ProtocolError("BAD_TRANSACTION", f"{what} signature does not verify")

    # --- close -------------------------------------------------------------------------------

    def close_tx(self, change: int, client_sig: bytes, server_key: PrivateKey, server_spk: bytes,
                 feerate: int) -> BuiltTx:
        """The settlement of the payment (``change``, ``client_sig``): the server's output takes
        the rest less the fee at ``feerate`` (sat/kvB); signed ALL. PolicyError if what is left
        for the server would be dust."""
        b = TxBuilder(version=PAYMENT_TX_VERSION, locktime=0)
        b.inputs.append(self.template.input(self.deposit_txid, self.deposit_vout, self.value, "close",
                                            self.wrapping, sequence=PAYMENT_SEQUENCE))
        if change > 0:
            b.add_output(self.client_spk, change)
        built = b.build(server_spk, feerate)
        if built.change_index is None:
            raise PolicyError(f"the server's {self.value - change} sats do not cover the close fee "
                              f"and a non-dust output at {feerate} sat/kvB")
        tx = built.tx
        server_sig = self.template.sign(server_key, tx, 0, self.value, self.wrapping, SIGHASH_ALL)
        self.template.spend("close", client_sig, server_sig, wrapping=self.wrapping).apply(tx, 0)
        return built

    # --- refund ------------------------------------------------------------------------------

    def refund_tx(self, feerate: int) -> CMutableTransaction:
        """The unsigned refund: the whole deposit less the fee back to the client at the expiry."""
        b = TxBuilder(version=2, locktime=self.expiry)
        b.inputs.append(self.template.input(self.deposit_txid, self.deposit_vout, self.value, "refund",
                                            self.wrapping, sequence=REFUND_SEQUENCE))
        built = b.build(self.client_spk, feerate)
        if built.change_index is None:
            raise PolicyError("the deposit does not cover the refund fee")
        return built.tx

    def sign_refund_server(self, key: PrivateKey, refund: CTransaction) -> bytes:
        """Version 1: the server's NONE|ANYONECANPAY signature of the refund."""
        return self.template.sign(key, refund, 0, self.value, self.wrapping, NONE_ANYONECANPAY)

    def check_refund_server(self, refund: CTransaction, signature: bytes) -> None:
        """Version 1: raise BAD_TRANSACTION unless ``signature`` is the server's NONE|ANYONECANPAY
        signature of ``refund``."""
        if signature[-1] != NONE_ANYONECANPAY:
            raise ProtocolError("BAD_TRANSACTION", "refund not signed NONE|ANYONECANPAY")
        self._check_signature(self.server_key, signature, refund, "refund")

    def complete_refund(self, key: PrivateKey, refund: CTransaction, server_sig: bytes | None = None) -> CTransaction:
        """The refund with the client's ALL signature (and the server's, version 1) in place."""
        tx = CMutableTransaction.from_tx(refund)
        client_sig = self.template.sign(key, tx, 0, self.value, self.wrapping, SIGHASH_ALL)
        sigs = (client_sig, server_sig) if self.version == 1 else (client_sig,)
        self.template.spend("refund", *sigs, wrapping=self.wrapping).apply(tx, 0)
        return CTransaction.from_tx(tx)

    def is_refund(self, tx: CTransaction) -> bool:
        """Whether ``tx`` (which spends the deposit) takes the refund path: time-locked at the expiry."""
        return tx.nLockTime >= self.expiry and Expiry(tx.nLockTime).is_height == self.expiry_is_height
