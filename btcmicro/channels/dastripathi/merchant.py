"""The Das–Tripathi merchant (Micropay 1, §6.1) and, with ``pos_keys``, a point of sale of a
merchant with several (Micropay 2, §6.2).

A payment is checked in the paper's order, and nothing is stored until every check passed:

1. the voucher and the payment transaction are valid (voucher signed by this merchant — or, in
   Micropay 2, by one of the points of sale — on this channel's state; the payer's signature);
2. the voucher has **not been used before** (an exact replay of an accepted payment gets the same
   receipt and changes nothing; a second, different payment on a used voucher is voucher reuse:
   the payer's escrow key is blacklisted and the channel is closed with the best payment);
3. b + b_i <= d;
4. pk_esc is not blacklisted;
5. T < t - T_conf: the merchant takes no payment it could not close before the payer's refund
   becomes valid at t (the margin T_conf is ``Offer.margin``, in blocks).

Then the merchant signs the next state (k + 1, b + b_i), stores the payment and the spent voucher
in one transaction, and returns the receipt (the new voucher and the service).

Micropay 2 adds, at step 1, the point of sale's fresh nonce r and the payer's accountable
assertion τ = Assert(ask, ct = k, st = r), verified against the assertion key the payer gave at
open (its point is pk_esc). Every accepted assertion is kept for :func:`collect`.

Microcoins (§6.4, with ``coins``, a :class:`~.stores.MicrocoinStore`): the payer sets a coin chain
up on an open channel (:meth:`Merchant.coins_open`: the parameters must hash to the root its refund
key pk_2 commits, pk_R is pk_B, n·unit ≤ d); each coin (:meth:`Merchant.coin`) is verified and
stored before the merchant answers what is owed; the payer settles with a Micropay 1 payment. A
double-spent coin exposes the payer's escrow key, and the merchant sweeps d + p with it at once.

The merchant talks to :class:`~btcmicro.ports.Chain`, :class:`~btcmicro.ports.Rng`, its
:class:`~.stores.MerchantStore` and (microcoins) its :class:`~.stores.MicrocoinStore` only.
"""
from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import coincurve
from bitcoin.core import CTransaction, b2lx

from btcmicro.channels.dastripathi.contract import ChannelTerms, txid_of
from btcmicro.channels.dastripathi.contract import from_height as _from_height
from btcmicro.channels.dastripathi.messages import (
    AnyVoucher,
    Offer,
    Open,
    Payment,
    Receipt,
    RingVoucher,
    Voucher,
    decode_voucher,
    voucher_digest,
)
from btcmicro.channels.dastripathi.microcoins import Microcoin, MicrocoinReceiver, MicrocoinSetup
from btcmicro.channels.dastripathi.states import (
    COIN_TRANSITIONS,
    MERCHANT_TRANSITIONS,
    CoinEvent,
    CoinStatus,
    MerchantEvent,
    MerchantStatus,
)
from btcmicro.channels.dastripathi.stores import (
    AssertionRecord,
    MerchantChannel,
    MerchantStore,
    MicrocoinStore,
    SpentVoucher,
)
from btcmicro.contracts import TemplateError
from btcmicro.core.errors import NodeError, PolicyError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto import ring as aos
from btcmicro.crypto.assertions import Assertion, public_key_from_bytes
from btcmicro.ports import Chain, Rng
from btcmicro.script.standard import p2wpkh
from btcmicro.tx.policy import dust_threshold, is_standard_script

__all__ = ["Merchant", "Service", "sign_voucher", "required_penalty", "DEFAULT_FEE", "DEFAULT_MARGIN", "DEFAULT_SLOT"]

DEFAULT_FEE = 1_000  # sats: a 2-of-2 P2WSH close is ~230 vB, so ~4 sat/vB
DEFAULT_MARGIN = 6  # blocks: T_conf, the merchant's close must confirm before t
DEFAULT_SLOT = 144  # blocks: the collection slot T̄ of Micropay 3 (ring vouchers expire at its end)
MAX_NONCES = 100_000  # a point of sale forgets its oldest unused nonces beyond this

#: (channel after the payment, this payment's amount) -> the service returned with the receipt.
Service = Callable[[MerchantChannel, int], bytes]


def sign_voucher(key: PrivateKey, v: Voucher, rng: Rng = secrets.token_bytes) -> Voucher:
    """``v`` signed (BIP340) by ``key``, which becomes its signer."""
    v = replace(v, signer=key.pubkey)
    sig = coincurve.PrivateKey(key.to_bytes()).sign_schnorr(v.sighash(), rng(32))
    return replace(v, signature=bytes(sig))


def required_penalty(n: int, deposit: int, service_per_slot: int) -> int:
    """Micropay 3's penalty bound [our reading, SCHEMES.md §6.3]: within one slot a point of sale
    serves at most T̂/Ť payments of at most u₂, so a payer cheating at n points of sale gains at
    most n·min(d, T̂/Ť·u₂) of service while losing d + p; no profit needs
    ``p >= n·min(d, T̂/Ť·u₂) − d`` (``service_per_slot`` = T̂/Ť·u₂, in sats). For n = 2 and
    d = T̂/Ť·u₂ it is the paper's figure p = T̂/Ť·u₂."""
    return max(0, n * min(deposit, service_per_slot) - deposit)


@dataclass(frozen=True)
class _Checked:
    channel: MerchantChannel
    payment: Payment
    voucher_id: bytes


class Merchant:
    """Serves Das–Tripathi channels; thread-safe.

    ``key`` is pk_B, the key in every channel script and the voucher signer (Micropay 1). For a
    point of sale of a Micropay 2 merchant give ``channel_key`` (pk_B, the merchant's script key,
    whose secret the point of sale does not hold), ``key`` (pk_Bi, this point of sale's voucher
    key), ``pos_keys`` (every point of sale's voucher key, in order) and ``pos_index``.

    Micropay 3 [reconstructed]: give ``ring`` (the points of sale's keys) to every point of sale and
    to the merchant. A point of sale then signs vouchers with an AOS ring signature over it, with no
    signer field, expiring at the end of the current collection slot of ``slot`` blocks; with
    ``service_per_slot`` (T̂/Ť·u₂, sats) the merchant refuses an escrow whose penalty is below
    :func:`required_penalty` for n = len(ring).
    """

    def __init__(self, chain: Chain, store: MerchantStore, key: PrivateKey, *, payout_spk: bytes | None = None,
                 fee: int = DEFAULT_FEE, margin: int = DEFAULT_MARGIN, min_confirmations: int = 1,
                 service: Service | None = None, rng: Rng = secrets.token_bytes,
                 channel_key: bytes | None = None, pos_keys: Sequence[bytes] = (), pos_index: int = 0,
                 ring: Sequence[bytes] = (), slot: int = DEFAULT_SLOT, service_per_slot: int | None = None,
                 coins: MicrocoinStore | None = None) -> None:
        self.chain = chain
        self.store = store
        self.key = key
        self.channel_key = channel_key or key.pubkey
        self.payout_spk = payout_spk if payout_spk is not None else bytes(p2wpkh(self.channel_key))
        self.fee = fee
        self.margin = margin
        self.min_confirmations = min_confirmations
        self.service = service
        self.rng = rng
        self.pos_keys = tuple(pos_keys)
        self.pos_index = pos_index
        if self.pos_keys and self.pos_keys[pos_index] != key.pubkey:
            raise PolicyError("pos_keys[pos_index] must be this point of sale's key")
        self.ring = tuple(ring)
        self.slot = slot
        self.service_per_slot = service_per_slot
        if self.ring and self.pos_keys and self.ring != self.pos_keys:
            raise PolicyError("the ring is the points of sale's keys")
        self.coins = coins
        self._receivers: dict[str, MicrocoinReceiver] = {}
        self._nonces: dict[bytes, None] = {}  # issued and unused, oldest first (at most MAX_NONCES)
        self._lock = threading.RLock()

    @property
    def micropay2(self) -> bool:
        return bool(self.pos_keys or self.ring)

    @property
    def signers(self) -> tuple[bytes, ...]:
        """The keys whose vouchers this merchant accepts."""
        return (self.channel_key, *self.pos_keys) if self.pos_keys else (self.key.pubkey,)

    def offer(self) -> Offer:
        return Offer(self.channel_key, self.payout_spk, self.fee, self.margin, self.ring)

    def slot_end(self, height: int) -> int:
        """The last height of the collection slot holding ``height`` (Micropay 3 voucher expiry)."""
        return (height // self.slot + 1) * self.slot - 1

    def _voucher(self, terms: ChannelTerms, k: int, paid: int) -> AnyVoucher:
        if self.ring and self.key.pubkey in self.ring:
            rv = RingVoucher(terms.escrow_txid, terms.escrow_vout, terms.escrow_key, terms.deposit, terms.expiry, k,
                             paid, self.slot_end(self.chain.height()))
            secret = int.from_bytes(self.key.to_bytes(), "big")
            return replace(rv, signature=aos.sign(rv.sighash(), self.ring, secret))
        v = Voucher(terms.escrow_txid, terms.escrow_vout, terms.escrow_key, terms.deposit, terms.expiry, k, paid,
                    self.key.pubkey)
        return sign_voucher(self.key, v, self.rng)

    # --- open ----------------------------------------------------------------------------------

    def open(self, data: bytes) -> AnyVoucher:
        """Check the payer's funded escrow on chain and answer with the first voucher (b = 0).

        Re-sending the same Open returns the same voucher; nothing is stored unless every check passed."""
        m = Open.decode(data)
        terms = ChannelTerms.of(m, self.channel_key, self.payout_spk)
        with self._lock:
            known = self.store.channel(terms.escrow_id)
            if known is not None:
                if known.terms != terms:
                    raise ProtocolError("ALREADY_OPEN", f"escrow {terms.escrow_id} is open with other terms")
                if known.k == 0:
                    return decode_voucher(known.voucher)
                raise ProtocolError("ALREADY_OPEN", f"escrow {terms.escrow_id} already has payments")
            if m.fee != self.fee:
                raise ProtocolError("BAD_TERMS", f"the close fee is {self.fee} sats, not {m.fee}")
            if m.deposit <= 0:
                raise ProtocolError("BAD_TERMS", "the deposit must be positive")
            if m.ring != self.ring:
                raise ProtocolError("BAD_TERMS", "the ring of points of sale is not this merchant's")
            if self.ring and self.service_per_slot is not None:
                need = required_penalty(len(self.ring), m.deposit, self.service_per_slot)
                if m.penalty < need:
                    raise ProtocolError("PENALTY_TOO_SMALL", f"p = {m.penalty} < n·min(d, T̂/Ť·u₂) − d = {need}")
            if self.micropay2 and not m.assertion_key:
                raise ProtocolError("BAD_TERMS", "a Micropay 2 channel needs the payer's assertion key")
            if m.assertion_key:
                apk = public_key_from_bytes(m.assertion_key)
                point = getattr(apk, "point", b"")
                if point != m.escrow_key:
                    raise ProtocolError("BAD_TERMS", "the assertion key's point must be pk_esc")
            try:
                terms.template  # noqa: B018 - builds the script: keys valid and distinct, expiry a height
                payer_dust = dust_threshold(m.payer_spk)
            except (TemplateError, ValueError) as e:
                raise ProtocolError("BAD_TERMS", str(e)) from None
            standard, kind = is_standard_script(m.payer_spk)
            if payer_dust == 0 or not standard or kind in ("nulldata", "multisig"):
                # a non-standard change output would make every payment transaction non-standard:
                # the merchant could not close, and the payer would refund after t
                raise ProtocolError("BAD_TERMS", "the payer's script is not a standard payee")
            if self.store.is_blacklisted(m.escrow_key):
                raise ProtocolError("BLACKLISTED", "this escrow key is blacklisted")
            height = self.chain.height()
            if height + self.margin >= m.expiry:
                raise ProtocolError("EXPIRED", f"expiry {m.expiry} is within {self.margin} blocks of the tip {height}")
            utxo = self.chain.get_utxo(str(b2lx(m.escrow_txid)), m.escrow_vout)
            if utxo is None or utxo.script_pubkey != terms.escrow_spk or utxo.value != terms.value:
                raise ProtocolError("NO_ESCROW", f"no unspent output {terms.escrow_id} of {terms.value} sats "
                                                 "paying the channel script")
            if utxo.confirmations < self.min_confirmations:
                raise ProtocolError("UNCONFIRMED", f"the escrow has {utxo.confirmations} confirmations, "
                                                   f"{self.min_confirmations} needed")
            voucher = self._voucher(terms, 0, 0)
            self.store.add_channel(MerchantChannel(terms, voucher=voucher.encode()))
            return voucher

    def register(self, data: bytes) -> AnyVoucher:
        """Micropay 2: a point of sale learns a channel the merchant opened (same checks as open)."""
        return self.open(data)

    # --- payments ------------------------------------------------------------------------------

    def nonce(self) -> bytes:
        """Micropay 2: a fresh nonce r for the payer's next assertion at this point of sale."""
        r = self.rng(32)
        with self._lock:
            self._nonces[r] = None
            while len(self._nonces) > MAX_NONCES:
                del self._nonces[next(iter(self._nonces))]
        return r

    def _check(self, m: Payment) -> _Checked:
        v = m.voucher
        # 1. the voucher and the transaction are valid
        if self.ring:
            if not isinstance(v, RingVoucher) or not v.verify(self.ring):
                raise ProtocolError("BAD_VOUCHER", "the voucher is not ring-signed by a point of sale")
            height = self.chain.height()
            if height > v.voucher_expiry:
                raise ProtocolError("VOUCHER_EXPIRED", f"the voucher expired at height {v.voucher_expiry}")
        else:
            if not isinstance(v, Voucher):
                raise ProtocolError("BAD_VOUCHER", "a ring voucher to a merchant without a ring")
            if v.signer not in self.signers:
                raise ProtocolError("UNKNOWN_SIGNER", "the voucher is not signed by this merchant")
            if not v.verify():
                raise ProtocolError("BAD_VOUCHER", "the voucher's signature does not verify")
        escrow_id = f"{b2lx(v.escrow_txid)}:{v.escrow_vout}"
        channel = self.store.channel(escrow_id)
        if channel is None:
            raise ProtocolError("UNKNOWN_CHANNEL", f"no channel {escrow_id}")
        t = channel.terms
        if (v.escrow_key, v.deposit, v.expiry) != (t.escrow_key, t.deposit, t.expiry):
            raise ProtocolError("BAD_VOUCHER", "the voucher's state is not this channel's")
        if m.amount <= 0:
            raise ProtocolError("BAD_AMOUNT", "a payment is at least 1 sat")
        if self.micropay2:
            self._check_assertion(channel, m)
        return _Checked(channel, m, voucher_digest(v))

    def _check_assertion(self, channel: MerchantChannel, m: Payment) -> None:
        if m.nonce not in self._nonces:
            raise ProtocolError("BAD_NONCE", "the nonce is not one this point of sale issued, or is used")
        apk = public_key_from_bytes(channel.terms.assertion_key)
        if m.voucher.k >= 1 << apk.context_bits:
            raise ProtocolError("BAD_ASSERTION", "the counter k is beyond the assertion key's contexts")
        if not apk.verify(Assertion(m.voucher.k, m.nonce, m.assertion)):
            raise ProtocolError("BAD_ASSERTION", "the assertion does not verify on (k, nonce)")

    def pay(self, data: bytes) -> Receipt:
        """Take one payment (see the module docstring for the checks); the receipt."""
        m = Payment.decode(data)
        with self._lock:
            c = self._check(m)
            channel, t = c.channel, c.channel.terms
            # 2. the voucher has not been used before
            spent = self.store.spent_voucher(c.voucher_id)
            if spent is not None:
                if spent.payment_id == m.digest():
                    return Receipt.decode(spent.receipt)  # an exact replay: the same answer, nothing changes
                self._check_tx(t, m)
                self._reuse(channel)
                raise ProtocolError("VOUCHER_REUSED", "this voucher was used before: the escrow key is "
                                                      "blacklisted and the channel closes")
            if not self.micropay2 and c.voucher_id != voucher_digest(decode_voucher(channel.voucher)):
                raise ProtocolError("STALE_VOUCHER", "not the channel's latest voucher")
            # 3. b + b_i <= d (then the transaction paying it is defined and its signature checked)
            if m.total > t.deposit:
                raise ProtocolError("OVER_DEPOSIT", f"b + b_i = {m.total} exceeds the deposit {t.deposit}")
            self._check_tx(t, m)
            # 4. not blacklisted
            if self.store.is_blacklisted(t.escrow_key):
                raise ProtocolError("BLACKLISTED", "this escrow key is blacklisted")
            # 5. T < t (less the margin T_conf the close needs)
            height = self.chain.height()
            if height + self.margin >= t.expiry:
                raise ProtocolError("EXPIRED", f"the channel closes at {t.expiry - self.margin}; the tip is {height}")
            if channel.status is not MerchantStatus.OPEN:
                raise ProtocolError("CHANNEL_CLOSED", f"the channel is {channel.status.value}")
            MERCHANT_TRANSITIONS.step(channel.status, MerchantEvent.PAYMENT)
            new_k = m.voucher.k + 1
            best = m.total > channel.paid
            after = replace(channel, k=max(channel.k, new_k), paid=m.total if best else channel.paid,
                            escrow_sig=m.escrow_sig if best else channel.escrow_sig)
            voucher = self._voucher(t, new_k, m.total)
            after = replace(after, voucher=voucher.encode())
            service = self.service(after, m.amount) if self.service is not None else b""
            receipt = Receipt(voucher, service)
            record = None
            if self.micropay2:
                self._nonces.pop(m.nonce, None)
                record = AssertionRecord(t.escrow_id, m.voucher.k, m.nonce, m.assertion, self.pos_index)
            if not self.store.record_payment(after, SpentVoucher(c.voucher_id, t.escrow_id, m.digest(),
                                                                 receipt.encode()), record):
                raise ProtocolError("VOUCHER_REUSED", "this voucher was used meanwhile")
            if after.paid == t.deposit and not self.micropay2:
                self._close(after)
            return receipt

    def _check_tx(self, t: ChannelTerms, m: Payment) -> None:
        if m.total > t.deposit:
            raise ProtocolError("OVER_DEPOSIT", f"b + b_i = {m.total} exceeds the deposit {t.deposit}")
        if m.total < dust_threshold(t.merchant_spk):
            raise ProtocolError("AMOUNT_TOO_SMALL", f"the merchant's output of {m.total} sats would be dust")
        t.check_signature(t.escrow_key, m.escrow_sig, t.payment_tx(m.total), "payment")

    def _reuse(self, channel: MerchantChannel) -> None:
        self.store.blacklist(channel.terms.escrow_key, f"voucher reuse on {channel.escrow_id}")
        holds_pk_b = self.key.pubkey == self.channel_key  # a point of sale leaves the close to the merchant
        if holds_pk_b and channel.status in (MerchantStatus.OPEN, MerchantStatus.CLOSING) and channel.paid > 0:
            with contextlib.suppress(NodeError):  # stored as closing: tick() and close() send it again
                self._close(channel)

    # --- closing -------------------------------------------------------------------------------

    def _close(self, channel: MerchantChannel) -> str:
        status = MERCHANT_TRANSITIONS.step(channel.status, MerchantEvent.CLOSE)
        if channel.paid <= 0:
            raise PolicyError("nothing to close: no payment on this channel")
        tx = channel.terms.close_tx(channel.paid, channel.escrow_sig, self._channel_secret())
        txid = txid_of(tx)
        self.store.update_channel(replace(channel, status=status, close_txid=txid))
        self._broadcast_then_settle(channel.escrow_id, tx)
        return txid

    def _broadcast_then_settle(self, escrow_id: str, tx: CTransaction) -> None:
        """Send a close or sweep, then settle the coin chain: a settle that fails cannot hold the spend back
        (``tick`` sends only closes again), and it is tried also when the node refuses the spend."""
        try:
            self.chain.broadcast(tx.serialize().hex())
        finally:
            self._settle_coins(escrow_id)

    def _channel_secret(self) -> PrivateKey:
        if self.key.pubkey != self.channel_key:
            raise PolicyError("a point of sale does not hold pk_B's secret: the merchant closes")
        return self.key

    def close(self, escrow_id: str) -> str:
        """Broadcast the best payment (branch 1); its txid. Stored before it is sent."""
        with self._lock:
            channel = self.store.channel(escrow_id)
            if channel is None:
                raise ProtocolError("UNKNOWN_CHANNEL", f"no channel {escrow_id}")
            return self._close(channel)

    def sweep(self, escrow_id: str, secret: int) -> str:
        """Spend the whole escrow (d + p) to the merchant with the payer's exposed escrow key
        (a double-spent microcoin, or an equivocation found outside :func:`collect`); its txid.
        The key is checked against pk_esc; the channel is blacklisted and stored before the broadcast."""
        with self._lock:
            channel = self.store.channel(escrow_id)
            if channel is None:
                raise ProtocolError("UNKNOWN_CHANNEL", f"no channel {escrow_id}")
            key = PrivateKey(secret.to_bytes(32, "big"))
            if key.pubkey != channel.terms.escrow_key:
                raise PolicyError("that secret is not the channel's escrow key")
            status = MERCHANT_TRANSITIONS.step(channel.status, MerchantEvent.PENALTY)
            tx = channel.terms.penalty_tx(key, self._channel_secret())
            txid = txid_of(tx)
            self.store.blacklist(channel.terms.escrow_key, f"exposed key on {escrow_id}")
            self.store.update_channel(replace(channel, status=status, close_txid=txid))
            self._broadcast_then_settle(escrow_id, tx)
            return txid

    # --- microcoins ----------------------------------------------------------------------------

    def _coin_channel(self, escrow_id: str) -> MerchantChannel:
        if self.coins is None or self.key.pubkey != self.channel_key:
            raise ProtocolError("NO_MICROCOINS", "this merchant takes no microcoins")
        channel = self.store.channel(escrow_id)
        if channel is None:
            raise ProtocolError("UNKNOWN_CHANNEL", f"no channel {escrow_id}")
        return channel

    def coins_open(self, escrow_id: str, data: bytes) -> MicrocoinReceiver:
        """Set microcoins up on an open channel; the receiver. The same set-up again returns it;
        anything refused stores nothing."""
        setup = MicrocoinSetup.decode(data)
        p = setup.params
        with self._lock:
            channel = self._coin_channel(escrow_id)
            assert self.coins is not None
            known = self.coins.chain_of(escrow_id)
            if known is not None:
                if known.root != p.root:
                    raise ProtocolError("ALREADY_OPEN", f"escrow {escrow_id} already has another coin chain")
                return self._receiver(escrow_id)
            t = channel.terms
            if channel.status is not MerchantStatus.OPEN:
                raise ProtocolError("CHANNEL_CLOSED", f"the channel is {channel.status.value}")
            if p.receiver != self.key.pubkey or p.payer != t.escrow_key:
                raise ProtocolError("BAD_SETUP", "the coins must be keyed by pk_esc and paid to pk_B")
            if p.n * p.unit > t.deposit or p.expiry > t.expiry:
                raise ProtocolError("BAD_SETUP", f"n·unit = {p.n * p.unit} must be within the deposit {t.deposit} "
                                                 f"and the coins' expiry {p.expiry} within t = {t.expiry}")
            receiver = MicrocoinReceiver(p, t.refund_key, setup.refund_base, store=self.coins, escrow_id=escrow_id)
            self._receivers[escrow_id] = receiver
            return receiver

    def coin_receiver(self, escrow_id: str) -> MicrocoinReceiver:
        """The channel's microcoin receiver (``NO_MICROCOINS`` when none is set up)."""
        with self._lock:
            return self._receiver(escrow_id)

    def _receiver(self, escrow_id: str) -> MicrocoinReceiver:
        receiver = self._receivers.get(escrow_id)
        if receiver is None:
            channel = self._coin_channel(escrow_id)
            assert self.coins is not None
            chain = self.coins.chain_of(escrow_id)
            if chain is None:
                raise ProtocolError("NO_MICROCOINS", f"no microcoins on {escrow_id}")
            setup = MicrocoinSetup.decode(chain.setup)
            receiver = MicrocoinReceiver(setup.params, channel.terms.refund_key, setup.refund_base,
                                         store=self.coins, escrow_id=escrow_id)
            self._receivers[escrow_id] = receiver
        return receiver

    def _settle_coins(self, escrow_id: str) -> None:
        """The channel left OPEN: its coin chain (if any) is settled, it takes no new coin."""
        if self.coins is None or self.key.pubkey != self.channel_key or self.coins.chain_of(escrow_id) is None:
            return
        receiver = self._receiver(escrow_id)
        if COIN_TRANSITIONS.allowed(receiver.status, CoinEvent.SETTLE):
            receiver.settle()

    def coin(self, escrow_id: str, data: bytes) -> MicrocoinReceiver:
        """Take one microcoin on the channel; the receiver (``owed``, ``index``), the coin stored.
        A new coin needs the channel OPEN (else ``CHANNEL_CLOSED``; its chain is settled) and before
        t - T_conf (else ``EXPIRED``); a coin at a taken index is still checked: resent, the same
        answer; double-spent (now or before a restart), ``DOUBLE_SPEND`` after the merchant broadcast
        the sweep of d + p with the payer's exposed key while the channel is open."""
        with self._lock:
            channel = self._coin_channel(escrow_id)
            receiver = self._receiver(escrow_id)
            if receiver.status is not CoinStatus.EXPOSED:
                if Microcoin.decode(data).index > receiver.index:  # a new coin (an old index: resent, or double-spent)
                    if channel.status is not MerchantStatus.OPEN:
                        self._settle_coins(escrow_id)
                        raise ProtocolError("CHANNEL_CLOSED", f"the channel is {channel.status.value}: no new coin")
                    height = self.chain.height()
                    if height + self.margin >= channel.terms.expiry:
                        raise ProtocolError("EXPIRED", f"the channel closes at {channel.terms.expiry - self.margin}")
                try:
                    receiver.accept(data)
                    return receiver
                except ProtocolError as e:
                    if e.code != "DOUBLE_SPEND":
                        raise
            assert receiver.exposed_key is not None
            swept = ""
            if channel.status is MerchantStatus.OPEN:
                swept = f"; swept by {self.sweep(escrow_id, receiver.exposed_key)}"
            elif channel.close_txid:
                swept = f"; the channel is {channel.status.value} by {channel.close_txid}"
            raise ProtocolError("DOUBLE_SPEND", f"a double-spent coin exposed the payer's key{swept}")

    def close_tx(self, escrow_id: str) -> CTransaction:
        """The signed close of the best payment (for a test or an operator; nothing changes)."""
        channel = self.store.channel(escrow_id)
        if channel is None or channel.paid <= 0:
            raise ProtocolError("UNKNOWN_CHANNEL", f"no payment on {escrow_id}")
        return channel.terms.close_tx(channel.paid, channel.escrow_sig, self._channel_secret())

    def tick(self) -> list[tuple[str, MerchantEvent]]:
        """Follow the chain: close every open channel that reached t - T_conf, send again a close
        the node does not hold (refused or evicted), note confirmed closes and the payer's refunds.
        What happened, per escrow."""
        out: list[tuple[str, MerchantEvent]] = []
        with self._lock:
            height = self.chain.height()
            for ch in self.store.channels((MerchantStatus.OPEN, MerchantStatus.CLOSING)):
                t = ch.terms
                txid = str(b2lx(t.escrow_txid))
                if self.chain.get_utxo(txid, t.escrow_vout) is None:
                    spend = self.chain.find_spend(txid, t.escrow_vout, from_height=_from_height(self.chain, txid))
                    if spend is not None and spend.txid != ch.close_txid:
                        tx = CTransaction.deserialize(bytes.fromhex(spend.hex)) if spend.hex else None
                        if tx is not None and t.is_refund(tx):
                            self.store.update_channel(replace(ch, status=MERCHANT_TRANSITIONS.step(
                                ch.status, MerchantEvent.REFUND_SEEN)))
                            self._settle_coins(ch.escrow_id)
                            out.append((ch.escrow_id, MerchantEvent.REFUND_SEEN))
                            continue
                    if spend is not None and spend.block_height is not None and ch.status is MerchantStatus.CLOSING:
                        self.store.update_channel(replace(ch, status=MERCHANT_TRANSITIONS.step(
                            ch.status, MerchantEvent.CONFIRMED)))
                        out.append((ch.escrow_id, MerchantEvent.CONFIRMED))
                    continue
                if ch.paid <= 0 or self.key.pubkey != self.channel_key:
                    continue
                if ch.status is MerchantStatus.OPEN and height + self.margin >= t.expiry:
                    with contextlib.suppress(NodeError):  # stored as closing: sent again at the next tick
                        self._close(ch)
                    out.append((ch.escrow_id, MerchantEvent.CLOSE))
                elif ch.status is MerchantStatus.CLOSING:
                    tx = t.close_tx(ch.paid, ch.escrow_sig, self.key)  # deterministic: the same close again
                    if txid_of(tx) == ch.close_txid:
                        with contextlib.suppress(NodeError):
                            self.chain.broadcast(tx.serialize().hex())
        return out
