"""Micropay 2's collection at T′ (SCHEMES.md §6.2): the merchant B gathers every point of sale's
records of a channel, and

- when two accountable assertions share a counter k with different nonces (the payer spent one
  voucher at two points of sale), **extracts the payer's secret key** — which is the escrow key
  pk_esc — and signs the penalty spending all d + p to itself with sk_A and sk_B (branch 1);
- otherwise broadcasts the payer's best payment (the highest cumulative b any point of sale holds).

Both are stored before they are broadcast. Extraction never fires on identical assertions or on
different contexts (the assertion schemes return no key then).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from btcmicro.channels.dastripathi.contract import txid_of
from btcmicro.channels.dastripathi.merchant import Merchant
from btcmicro.channels.dastripathi.states import MERCHANT_TRANSITIONS, MerchantEvent, MerchantStatus
from btcmicro.channels.dastripathi.stores import AssertionRecord, MerchantChannel, MerchantStore
from btcmicro.core.errors import NodeError, ProtocolError
from btcmicro.core.keys import PrivateKey
from btcmicro.crypto.assertions import Assertion, public_key_from_bytes

__all__ = ["Collection", "collect", "adopt_channels", "find_equivocation", "extract_escrow_key"]


@dataclass(frozen=True)
class Collection:
    """What the collection did for one channel: ``action`` is "penalty", "close" or "none"."""

    escrow_id: str
    action: str
    txid: str | None = None
    paid: int = 0
    equivocation: tuple[AssertionRecord, AssertionRecord] | None = None
    broadcast_error: str | None = None


def find_equivocation(records: Sequence[AssertionRecord]) -> tuple[AssertionRecord, AssertionRecord] | None:
    """Two records on one counter k with different statements, or None."""
    by_k: dict[int, AssertionRecord] = {}
    for r in records:
        first = by_k.setdefault(r.k, r)
        if first.statement != r.statement:
            return first, r
    return None


def extract_escrow_key(channel: MerchantChannel, pair: tuple[AssertionRecord, AssertionRecord]) -> PrivateKey | None:
    """The payer's escrow key from an equivocation, checked against pk_esc; None if none comes out."""
    apk = public_key_from_bytes(channel.terms.assertion_key)
    a, b = (Assertion(r.k, r.statement, r.token) for r in pair)
    x = apk.extract(a, b)
    if x is None:
        return None
    key = PrivateKey(x.to_bytes(32, "big"))
    return key if key.pubkey == channel.terms.escrow_key else None


def adopt_channels(merchant: Merchant, pos_stores: Sequence[MerchantStore]) -> list[tuple[str, ProtocolError]]:
    """Open at ``merchant`` (B) every channel a point of sale registered that B does not hold yet, each
    checked on chain as :meth:`Merchant.open` checks a payer's opening; the (escrow id, refusal) of those
    B refuses."""
    refused: list[tuple[str, ProtocolError]] = []
    for eid, opening in {ch.escrow_id: ch.terms.open_message() for s in pos_stores for ch in s.channels()}.items():
        if merchant.store.channel(eid) is None:
            try:
                merchant.open(opening.encode())
            except ProtocolError as e:
                refused.append((eid, e))
    return refused


def collect(merchant: Merchant, pos_stores: Sequence[MerchantStore]) -> list[Collection]:
    """Collect every open channel of ``merchant`` (which holds sk_B) from the points of sale's stores."""
    out: list[Collection] = []
    for ch in merchant.store.channels((MerchantStatus.OPEN,)):
        records = [r for s in pos_stores for r in s.assertions(ch.escrow_id)]
        best = ch
        for s in pos_stores:
            seen = s.channel(ch.escrow_id)
            if seen is not None and seen.paid > best.paid:
                best = replace(best, paid=seen.paid, escrow_sig=seen.escrow_sig, k=max(best.k, seen.k))
        pair = find_equivocation(records)
        key = extract_escrow_key(ch, pair) if pair is not None else None
        if key is not None:
            assert pair is not None
            status = MERCHANT_TRANSITIONS.step(ch.status, MerchantEvent.PENALTY)
            tx = ch.terms.penalty_tx(key, merchant.key)
            merchant.store.blacklist(ch.terms.escrow_key, f"equivocation on {ch.escrow_id}")
            merchant.store.update_channel(replace(best, status=status, close_txid=txid_of(tx)))
            error = _send(merchant, tx.serialize().hex())
            out.append(Collection(ch.escrow_id, "penalty", txid_of(tx), ch.terms.value - ch.terms.fee, pair, error))
        elif best.paid > 0:
            status = MERCHANT_TRANSITIONS.step(ch.status, MerchantEvent.CLOSE)
            tx = best.terms.close_tx(best.paid, best.escrow_sig, merchant.key)
            merchant.store.update_channel(replace(best, status=status, close_txid=txid_of(tx)))
            error = _send(merchant, tx.serialize().hex())
            out.append(Collection(ch.escrow_id, "close", txid_of(tx), best.paid, None, error))
        else:
            out.append(Collection(ch.escrow_id, "none"))
    return out


def _send(merchant: Merchant, tx_hex: str) -> str | None:
    try:
        merchant.chain.broadcast(tx_hex)
    except NodeError as e:
        return str(e)
    return None
