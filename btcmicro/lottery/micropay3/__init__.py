"""MICROPAY3 (Pass & shelat, CCS 2015, §2.3; SCHEMES.md §3): the "invisible" VTS.

Two escrows: escrow 1 is the payer's P2WPKH(pk_1); per ticket the payer pre-signs tx_1 (escrow 1 →
escrow 2, SIGHASH_SINGLE|ANYONECANPAY) to a fresh ``2 <pk_2> <pk_M> <pk_T> 3 CHECKMULTISIG``
(:class:`Micropay3Escrow`). A winning merchant publishes tx_1 and, once it confirms, asks the
payer for σ2 on tx_2 → a_M (happy path: T is never contacted). Only on deviation is T invoked:
**abort** (the payer withholds σ2: T checks x and co-signs to a_M) and **orphan** (a losing
merchant published tx_1: T co-signs the refund to a_U once escrow 2 has W confirmations and no
claim arrived). T signs one release per escrow 2, publishes each on its board, and gives a signed,
height-stamped :class:`Receipt` for every valid claim; :func:`audit` checks both collusion cases.

Parties (ports only): :class:`Payer`, :class:`Merchant`, :class:`Micropay3VTS`. Messages:
:mod:`.messages`. States: :mod:`.states` with :data:`PAYER_TRANSITIONS` and
:data:`MERCHANT_TRANSITIONS`. Stores: :mod:`.store` (ports), :mod:`.sqlite` (adapters).
"""
from btcmicro.lottery.micropay3.audit import audit, chain_claims
from btcmicro.lottery.micropay3.merchant import MERCHANT_TRANSITIONS, FeeCoin, Merchant, PrizeSigner, wins_of
from btcmicro.lottery.micropay3.messages import (
    ABORT as ABORT_KIND,
)
from btcmicro.lottery.micropay3.messages import (
    BOARD_TAG,
    CLAIMS,
    REGTEST_GENESIS,
    SIGHASH_SINGLE_ACP,
    Escrow1Ref,
    OrphanRequest,
    PaymentRequest,
    Prize,
    Receipt,
    Release,
    Ticket,
    release_fee,
    release_sighash,
    release_tx,
    release_vsize,
    sigma_digest,
    tx1_sighash,
    tx1_vsize,
)
from btcmicro.lottery.micropay3.messages import (
    ORPHAN as ORPHAN_KIND,
)
from btcmicro.lottery.micropay3.payer import PAYER_TRANSITIONS, NoEscrow, Payer
from btcmicro.lottery.micropay3.sqlite import SQLiteMerchantStore, SQLiteMicropay3VTSStore, SQLitePayerStore
from btcmicro.lottery.micropay3.states import EscrowStatus, MerchantEvent, PayerEvent, WinStatus
from btcmicro.lottery.micropay3.store import (
    Acceptance,
    EscrowRecord,
    MerchantStore,
    Micropay3VTSStore,
    PayerStore,
    WinRecord,
)
from btcmicro.lottery.micropay3.templates import Micropay3Escrow
from btcmicro.lottery.micropay3.vts import DEFAULT_WINDOW, Micropay3VTS, Micropay3VTSClient, PrizeRefused

__all__ = [
    "Micropay3Escrow", "Payer", "Merchant", "Micropay3VTS", "Micropay3VTSClient", "PrizeSigner", "FeeCoin",
    "audit", "chain_claims", "wins_of", "PrizeRefused", "NoEscrow", "DEFAULT_WINDOW",
    "Escrow1Ref", "PaymentRequest", "Ticket", "Prize", "OrphanRequest", "Release", "Receipt",
    "BOARD_TAG", "CLAIMS", "ABORT_KIND", "ORPHAN_KIND", "REGTEST_GENESIS", "SIGHASH_SINGLE_ACP",
    "release_fee", "release_sighash", "release_tx", "release_vsize", "sigma_digest", "tx1_sighash", "tx1_vsize",
    "EscrowStatus", "PayerEvent", "WinStatus", "MerchantEvent", "PAYER_TRANSITIONS", "MERCHANT_TRANSITIONS",
    "Acceptance", "EscrowRecord", "WinRecord", "PayerStore", "MerchantStore", "Micropay3VTSStore",
    "SQLitePayerStore", "SQLiteMerchantStore", "SQLiteMicropay3VTSStore",
]
