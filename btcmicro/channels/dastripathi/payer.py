"""The Das–Tripathi payer A: funds the escrow, pays with half-signed cumulative transactions,
checks every voucher, refunds after t.

Keys [paper §4.1]: pk_esc (escrow, branch 1 with the merchant) and a separate pk_2 (refund after
t), both fresh per channel and stored before the escrow is broadcast. In Micropay 2 the escrow key
is also the accountable-assertion key (RKS's deliberate key reuse): the payer records each
(context, statement) durably before an assertion leaves and never asserts twice in one context.

Microcoins (§6.4, with ``coins``, a :class:`~.stores.MicrocoinStore`): ``fund(..., microcoins=(n,
unit))`` keys the coin chain by the escrow key and commits its root in the refund key pk_2; the
set-up is stored before the escrow is broadcast; :meth:`Payer.coin` opens each node once, durably,
before the coin leaves.

Talks to :class:`~btcmicro.ports.Chain`, :class:`~btcmicro.ports.Wallet`,
:class:`~btcmicro.ports.Rng` and its :class:`~.stores.PayerStore` only.
"""
from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace

from bitcoin.core import CTransaction, b2lx, lx

from btcmicro.channels.dastripathi.contract import ChannelTerms, txid_of
from btcmicro.channels.dastripathi.contract import from_height as _from_height
from btcmicro.channels.dastripathi.messages import (
    AnyVoucher,
    Offer,
    Open,
    Payment,
    Receipt,
    RingVoucher,
    decode_voucher,
)
from btcmicro.channels.dastripathi.microcoins import (
    Microcoin,
    MicrocoinIssuer,
    MicrocoinSetup,
    commit_secret,
)
from btcmicro.channels.dastripathi.states import PAYER_TRANSITIONS, PayerEvent, PayerStatus
from btcmicro.channels.dastripathi.stores import MicrocoinStore, PayerChannel, PayerStore
from btcmicro.core.errors import ConfigError, PolicyError, ProtocolError
from btcmicro.core.keys import SECP256K1_ORDER, PrivateKey
from btcmicro.crypto.assertions import AssertionSecretKey, NonceSecretKey, TreeSecretKey
from btcmicro.ports import Chain, Rng, Wallet
from btcmicro.script.standard import address_to_script

__all__ = ["Payer", "ASSERTION_SCHEMES"]

#: Micropay 2's two accountable-assertion schemes (SCHEMES.md BB4): the RKS tree is the default.
ASSERTION_SCHEMES = ("tree", "nonce")


def _fresh_key(rng: Rng) -> PrivateKey:
    while True:
        s = rng(32)
        if 0 < int.from_bytes(s, "big") < SECP256K1_ORDER:
            return PrivateKey(s)


def assertion_key(secret: bytes, scheme: str, context_bits: int) -> AssertionSecretKey:
    x = int.from_bytes(secret, "big")
    if scheme == "tree":
        return TreeSecretKey(x, context_bits)
    if scheme == "nonce":
        return NonceSecretKey(x, context_bits)
    raise PolicyError(f"assertion scheme {scheme!r}: use one of {', '.join(ASSERTION_SCHEMES)}")


def _leaves(key: AssertionSecretKey) -> bytes | None:
    return key.leaves if isinstance(key, NonceSecretKey) else None


class Payer:
    """Opens and pays Das–Tripathi channels; thread-safe."""

    def __init__(self, chain: Chain, wallet: Wallet, store: PayerStore, *, rng: Rng = secrets.token_bytes,
                 coins: MicrocoinStore | None = None) -> None:
        self.chain = chain
        self.coins = coins
        self.wallet = wallet
        self.store = store
        self.rng = rng
        self._lock = threading.RLock()
        self._assertion_keys: dict[str, AssertionSecretKey] = {}

    # --- set-up --------------------------------------------------------------------------------

    def fund(self, offer: Offer, deposit: int, expiry: int, *, penalty: int = 0, assertions: str | None = None,
             context_bits: int = 16, payout_spk: bytes | None = None, escrow_secret: bytes | None = None,
             refund_secret: bytes | None = None, extra_outputs: Sequence[tuple[bytes, int]] = (),
             microcoins: tuple[int, int] | None = None) -> PayerChannel:
        """Fund an escrow of d + p + fee for ``offer``'s merchant, locked until height ``expiry``.

        ``assertions`` ("tree" or "nonce") makes it a Micropay 2 channel whose escrow key is also
        the assertion key. Change and refund pay ``payout_spk`` (default: the wallet's address).
        ``escrow_secret`` and ``refund_secret`` give the keys instead of fresh ones (microcoins: the
        issuer's key x, and a refund key committing the root); ``extra_outputs`` (script, sats) go
        in the funding transaction too. ``microcoins=(n, unit)`` sets a coin chain up on the channel
        (needs ``coins``; n·unit ≤ d). Stored before the broadcast; FUNDED once the node has it."""
        if isinstance(deposit, bool) or not isinstance(deposit, int) or deposit <= 0 or penalty < 0:
            raise PolicyError("the deposit is a positive int of sats, the penalty non-negative")
        escrow = PrivateKey(escrow_secret) if escrow_secret is not None else _fresh_key(self.rng)
        setup = None
        if microcoins is not None:
            if self.coins is None or refund_secret is not None:
                raise PolicyError("microcoins need the payer's coin store and a refund key of its own")
            n, unit = microcoins
            if n * unit > deposit:
                raise PolicyError(f"n·unit = {n * unit} exceeds the deposit {deposit}")
            issuer = MicrocoinIssuer(int.from_bytes(escrow.to_bytes(), "big"), offer.merchant_key, n, unit, expiry)
            base = _fresh_key(self.rng)
            setup = MicrocoinSetup(issuer.params, base.pubkey)
            refund_secret = commit_secret(base.to_bytes(), issuer.params.root)
        refund = PrivateKey(refund_secret) if refund_secret is not None else _fresh_key(self.rng)
        akey, asserting = b"", None
        if assertions is not None:
            asserting = assertion_key(escrow.to_bytes(), assertions, context_bits)
            akey = asserting.public_key.to_bytes()
        payer_spk = payout_spk if payout_spk is not None else bytes(address_to_script(self.wallet.address()))
        draft = ChannelTerms(b"\x00" * 32, 0, escrow.pubkey, offer.merchant_key, refund.pubkey, deposit, offer.fee,
                             expiry, payer_spk, offer.merchant_spk, penalty, akey, offer.ring)
        prepared = self.wallet.prepare([(draft.escrow_spk, draft.value), *extra_outputs])
        terms = replace(draft, escrow_txid=lx(prepared.txid), escrow_vout=prepared.vout_of(draft.escrow_spk))
        channel = PayerChannel(terms, escrow.to_bytes(), refund.to_bytes(), funding_hex=prepared.hex)
        with self._lock:
            if asserting is not None:  # made once (a 16-bit nonce-committed key takes seconds), kept for pay()
                self._assertion_keys[channel.escrow_id] = asserting
            if setup is not None and self.coins is not None:
                self.coins.add_issuer(channel.escrow_id, setup.encode())
            self.store.add_channel(channel)
            leaves = None if asserting is None else _leaves(asserting)
            if leaves is not None:  # a later process rebuilds the key from them (pay() in a new CLI process)
                self.store.set_assertion_leaves(channel.escrow_id, leaves)
            try:
                self.wallet.broadcast_prepared(prepared)
            except Exception:
                self.store.update_channel(channel)  # stays FUNDING; the node refused or did not answer
                raise
            channel = replace(channel, status=PAYER_TRANSITIONS.step(channel.status, PayerEvent.BROADCAST))
            self.store.update_channel(channel)
        return channel

    def _channel(self, escrow_id: str) -> PayerChannel:
        ch = self.store.channel(escrow_id)
        if ch is None:
            raise PolicyError(f"no channel {escrow_id}")
        return ch

    def open_message(self, escrow_id: str) -> Open:
        return self._channel(escrow_id).terms.open_message()

    def _check_voucher(self, ch: PayerChannel, data: bytes, k: int, paid: int) -> AnyVoucher:
        v = decode_voucher(data)
        t = ch.terms
        if (v.escrow_txid, v.escrow_vout, v.escrow_key, v.deposit, v.expiry) != (
                t.escrow_txid, t.escrow_vout, t.escrow_key, t.deposit, t.expiry):
            raise ProtocolError("BAD_VOUCHER", "the voucher is not on this channel's state")
        if (v.k, v.paid) != (k, paid):
            raise ProtocolError("BAD_VOUCHER", f"the voucher says k={v.k}, b={v.paid}; expected k={k}, b={paid}")
        if t.ring:
            if not isinstance(v, RingVoucher) or not v.verify(t.ring):
                raise ProtocolError("BAD_VOUCHER", "the voucher is not ring-signed by a point of sale")
            return v
        if isinstance(v, RingVoucher):
            raise ProtocolError("BAD_VOUCHER", "a ring voucher on a channel without a ring")
        if not t.assertion_key and v.signer != t.merchant_key:
            raise ProtocolError("BAD_VOUCHER", "the voucher is not signed by pk_B")
        if not v.verify():
            raise ProtocolError("BAD_VOUCHER", "the voucher's signature does not verify")
        return v

    def on_voucher(self, escrow_id: str, data: bytes) -> PayerChannel:
        """The merchant's first voucher (k = 0, b = 0): the channel opens."""
        with self._lock:
            ch = self._channel(escrow_id)
            if ch.status is PayerStatus.OPEN and ch.voucher == data:
                return ch
            v = self._check_voucher(ch, data, 0, 0)
            ch = replace(ch, status=PAYER_TRANSITIONS.step(ch.status, PayerEvent.VOUCHER), voucher=v.encode())
            self.store.update_channel(ch)
            return ch

    # --- payments ------------------------------------------------------------------------------

    def pay(self, escrow_id: str, amount: int, nonce: bytes = b"", *, voucher: bytes | None = None) -> Payment:
        """The payment of ``amount`` more on the held voucher (Micropay 2: asserting ``nonce`` in
        context k). Nothing changes until the receipt; ``voucher`` overrides the held one (tests of
        a misbehaving payer only). Refused while a coin payment on the held voucher awaits its receipt
        (:meth:`coin_payment` gives it again): the merchant may hold it, and takes one payment per voucher."""
        with self._lock:
            ch = self._channel(escrow_id)
            if voucher is None and self.coins is not None and ch.voucher:
                k = decode_voucher(ch.voucher).k
                if self.coins.coin_pending(escrow_id, k) is not None:
                    raise PolicyError(f"a coin payment is pending on voucher k={k}: send it again "
                                      "(coin_payment) before another payment")
            return self._pay(ch, amount, nonce, voucher)

    def _pay(self, ch: PayerChannel, amount: int, nonce: bytes = b"", voucher: bytes | None = None) -> Payment:
        escrow_id = ch.escrow_id
        if not PAYER_TRANSITIONS.allowed(ch.status, PayerEvent.PAID):
            raise PolicyError(f"the channel is {ch.status.value}")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise PolicyError("a payment is a positive int of sats")
        v = decode_voucher(voucher if voucher is not None else ch.voucher)
        total = v.paid + amount
        if total > ch.terms.deposit:
            raise PolicyError(f"b + b_i = {total} exceeds the deposit {ch.terms.deposit}")
        t = ch.terms
        sig = t.sign(PrivateKey(ch.escrow_secret), t.payment_tx(total))
        token = b""
        if t.assertion_key:
            if len(nonce) != 32:
                raise PolicyError("a Micropay 2 payment asserts the point of sale's 32-byte nonce")
            if voucher is None and not self.store.use_context(escrow_id, v.k, nonce):
                raise PolicyError(f"context k={v.k} already holds another statement: asserting again "
                                  "would reveal the escrow key")
            token = self._assertion_key(ch).assert_statement(v.k, nonce).token
        return Payment(v, amount, sig, nonce, token)

    def _assertion_key(self, ch: PayerChannel) -> AssertionSecretKey:
        """The channel's assertion key: kept in memory; a nonce-committed one is rebuilt from its
        stored leaves when they give the channel's public key, else made again (Gen) and its leaves stored."""
        key = self._assertion_keys.get(ch.escrow_id)
        if key is None:
            apk = ch.terms.assertion_key
            scheme, bits = ("tree" if apk[0] == 1 else "nonce"), int.from_bytes(apk[1:3], "big")
            stored = self.store.assertion_leaves(ch.escrow_id) if scheme == "nonce" else None
            if stored is not None:
                try:
                    key = NonceSecretKey.from_leaves(int.from_bytes(ch.escrow_secret, "big"), bits, stored)
                except ConfigError:
                    key = None
                if key is not None and key.public_key.to_bytes() != apk:
                    key = None
            if key is None:
                key = assertion_key(ch.escrow_secret, scheme, bits)
                leaves = _leaves(key)
                if leaves is not None:
                    self.store.set_assertion_leaves(ch.escrow_id, leaves)
            self._assertion_keys[ch.escrow_id] = key
        return key

    # --- microcoins ----------------------------------------------------------------------------

    def coin_setup(self, escrow_id: str) -> MicrocoinSetup:
        """The channel's microcoin set-up, for the merchant (``coins_open``)."""
        data = None if self.coins is None else self.coins.issuer_setup(escrow_id)
        if data is None:
            raise PolicyError(f"no microcoins on {escrow_id}")
        return MicrocoinSetup.decode(data)

    def issuer(self, escrow_id: str) -> MicrocoinIssuer:
        """The channel's coin issuer (keyed by its escrow key, remembering in ``coins`` what it opened)."""
        p = self.coin_setup(escrow_id).params
        ch = self._channel(escrow_id)
        return MicrocoinIssuer(int.from_bytes(ch.escrow_secret, "big"), p.receiver, p.n, p.unit, p.expiry,
                               store=self.coins)

    def _coins(self) -> MicrocoinStore:
        if self.coins is None:
            raise PolicyError("this payer has no coin store")
        return self.coins

    def coin(self, escrow_id: str, index: int | None = None) -> Microcoin:
        """Coin ``index`` to send (default: the next after the payer's own last sent; an earlier one is the
        same coin again), stored and recorded as sent before it is returned. Coins go in order: none
        beyond the next."""
        with self._lock:
            issuer = self.issuer(escrow_id)
            sent = self._coins().issuer_progress(escrow_id)[0]
            index = sent + 1 if index is None else index
            if index > sent + 1:
                raise PolicyError(f"coin {index} would skip coin {sent + 1}: coins go in order")
            coin = issuer.coin(index)
            self._coins().raise_issuer_progress(escrow_id, sent=index)
            return coin

    def coins_to_send(self, escrow_id: str, count: int, held: int = 0) -> Iterator[Microcoin]:
        """The coins to send for ``count`` more, each made as it is taken: first those the payer sent after
        ``held`` (the merchant's reported index: answers lost; the same coins again, never a new opening),
        then ``count`` new ones after the payer's own last sent. Nothing is made when fewer than ``count``
        coins are left."""
        sent = self._coins().issuer_progress(escrow_id)[0]
        n = self.coin_setup(escrow_id).params.n
        if sent + count > n:
            raise PolicyError(f"{n - sent} of the chain's {n} coins are left; none sent")
        for i in range(min(max(held, 0), sent) + 1, sent + count + 1):
            yield self.coin(escrow_id, i)

    def coin_payment(self, escrow_id: str, claimed: int) -> Payment | None:
        """The channel payment for the coins, or None when nothing is due: what the merchant claims is owed,
        but never more than the coins the payer sent (its own record: highest index sent × unit), less what
        it already paid for coins (ordinary payments on the channel do not count). Stored before it is
        returned, by channel and voucher: until a receipt on that voucher, the same payment again (its receipt
        lost, whatever the merchant claims now); paid for coins once :meth:`on_receipt` takes its receipt."""
        with self._lock:
            if isinstance(claimed, bool) or not isinstance(claimed, int):
                raise PolicyError("the sats claimed for coins are an int")
            coins = self._coins()
            ch = self._channel(escrow_id)
            k = decode_voucher(ch.voucher).k if ch.voucher else 0
            pending = coins.coin_pending(escrow_id, k)
            if pending is not None:
                return Payment.decode(pending[0])
            sent, paid = coins.issuer_progress(escrow_id)
            owed = min(claimed, sent * self.coin_setup(escrow_id).params.unit)
            if owed <= paid:
                return None
            m = self._pay(ch, owed - paid)
            return Payment.decode(coins.add_coin_pending(escrow_id, k, m.encode(), owed)[0])

    def on_receipt(self, escrow_id: str, payment: Payment, data: bytes) -> bytes:
        """Check the receipt of ``payment`` (the next voucher: k + 1, b + b_i); the service."""
        with self._lock:
            ch = self._channel(escrow_id)
            r = Receipt.decode(data)
            v = self._check_voucher(ch, r.voucher.encode(), payment.voucher.k + 1, payment.total)
            if self.coins is not None:  # a receipt on voucher k ends its pending coin payment (paid for coins if it)
                self.coins.end_coin_pending(escrow_id, payment.voucher.k, payment.encode())
            if ch.voucher == v.encode():
                return r.service
            ch = replace(ch, status=PAYER_TRANSITIONS.step(ch.status, PayerEvent.PAID), voucher=v.encode(),
                         paid=max(ch.paid, payment.total))
            self.store.update_channel(ch)
            return r.service

    # --- refund and watching -------------------------------------------------------------------

    def refund_tx(self, escrow_id: str) -> CTransaction:
        ch = self._channel(escrow_id)
        return ch.terms.refund_tx(PrivateKey(ch.refund_secret))

    def refund(self, escrow_id: str) -> str:
        """Broadcast the refund (branch 2, pk_2); the node refuses it before t. Its txid."""
        with self._lock:
            ch = self._channel(escrow_id)
            status = PAYER_TRANSITIONS.step(ch.status, PayerEvent.REFUND)
            tx = self.refund_tx(escrow_id)
            self.chain.broadcast(tx.serialize().hex())  # a refusal raises and changes nothing
            txid = txid_of(tx)
            self.store.update_channel(replace(ch, status=status, refund_txid=txid))
            return txid

    def watch(self, escrow_id: str) -> PayerStatus:
        """Follow the escrow on chain: spent by the merchant (CLOSED) or the refund confirmed."""
        with self._lock:
            ch = self._channel(escrow_id)
            t = ch.terms
            txid = str(b2lx(t.escrow_txid))
            spend = self.chain.find_spend(txid, t.escrow_vout, from_height=_from_height(self.chain, txid))
            if spend is None:
                return ch.status
            if spend.txid == ch.refund_txid:
                if spend.block_height is not None and PAYER_TRANSITIONS.allowed(ch.status, PayerEvent.REFUND_CONFIRMED):
                    ch = replace(ch, status=PAYER_TRANSITIONS.step(ch.status, PayerEvent.REFUND_CONFIRMED))
                    self.store.update_channel(ch)
            elif PAYER_TRANSITIONS.allowed(ch.status, PayerEvent.SPENT):
                ch = replace(ch, status=PAYER_TRANSITIONS.step(ch.status, PayerEvent.SPENT))
                self.store.update_channel(ch)
            return ch.status
