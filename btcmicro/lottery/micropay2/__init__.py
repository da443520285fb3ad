"""MICROPAY2 (Pass & shelat, CCS 2015, §2.2 and §3.3) on Bitcoin: escrows, lottery tickets, the
Verifiable Transaction Service, its bulletin board and audit.

The parties are pure classes (no sockets, no sleeping; clock and randomness injected) over the
ports of :mod:`btcmicro.ports` (a ``Chain``, a ``Wallet``) and a store port:

- :class:`Payer` funds escrows (step 1), checks requests and issues tickets (step 3), refunds;
- :class:`Merchant` issues stateless requests (step 2), checks tickets (step 4), claims winners
  through the VTS and broadcasts the claim (step 5); :class:`Claimer` is its retry policy;
- :class:`VTS` signs a winning claim at most once per escrow and publishes it on its
  :class:`Board`; :func:`audit` checks a VTS against its board and the chain. Both are the shared
  :mod:`btcmicro.lottery.vts` with MICROPAY2's claim checker (:data:`CLAIMS`).

Each party's states and its one transition table: :data:`PAYER_TRANSITIONS`,
:data:`MERCHANT_TRANSITIONS`, :data:`VTS_TRANSITIONS`.

Messages (:class:`PaymentRequest`, :class:`Ticket`, :class:`ClaimWitness`, :class:`BoardEntry`)
have one canonical binary encoding each and a base64url text form; see
:mod:`btcmicro.lottery.micropay2.messages` for the layouts.

Layout: ``messages`` (wire forms), ``templates`` (the escrow contract), ``payer``, ``merchant``,
``claimer``, ``vts`` (the parties), ``states`` (statuses and events), ``store`` (the store ports),
``sqlite`` (their SQLite adapters), ``audit`` (the on-chain claim finder).
"""
from btcmicro.lottery.common import MAX_K, derive_key, is_strict_der, verify_sig, wins
from btcmicro.lottery.micropay2.audit import AuditReport, Finding, SignedClaim, audit, chain_claims
from btcmicro.lottery.micropay2.claimer import Claimer
from btcmicro.lottery.micropay2.merchant import MERCHANT_TRANSITIONS, ClaimResult, Merchant
from btcmicro.lottery.micropay2.messages import (
    BOARD_TAG,
    CLAIM_TAG,
    CLAIMS,
    REQUEST_TAG,
    SIGMA_TAG,
    TICKET_TAG,
    ClaimWitness,
    EscrowRef,
    Micropay2Claims,
    PaymentRequest,
    Ticket,
    claim_fee,
    claim_sighash,
    claim_tx,
    claim_vsize,
    sigma_digest,
)
from btcmicro.lottery.micropay2.payer import PAYER_TRANSITIONS, NoEscrow, Payer
from btcmicro.lottery.micropay2.sqlite import SQLiteMerchantStore, SQLitePayerStore, SQLiteVTSStore
from btcmicro.lottery.micropay2.states import EscrowStatus, MerchantEvent, PayerEvent, WinStatus
from btcmicro.lottery.micropay2.store import Acceptance, EscrowRecord, MerchantStore, PayerStore, VTSStore, WinRecord
from btcmicro.lottery.micropay2.vts import VTS
from btcmicro.lottery.vts import (
    GENESIS,
    VTS_TRANSITIONS,
    AlreadyClaimed,
    Board,
    BoardEntry,
    VTSClient,
    VTSEvent,
    VTSState,
    log_problems,
    make_entry,
    verify_log,
)
from btcmicro.wire.base64url import b64decode, b64encode

__all__ = [
    # parties
    "Payer", "Merchant", "VTS", "VTSClient", "Board", "audit", "Claimer",
    # messages
    "PaymentRequest", "Ticket", "ClaimWitness", "EscrowRef", "BoardEntry",
    "REQUEST_TAG", "TICKET_TAG", "CLAIM_TAG", "SIGMA_TAG", "BOARD_TAG", "MAX_K", "GENESIS",
    "wins", "sigma_digest", "claim_tx", "claim_sighash", "claim_vsize", "claim_fee",
    "is_strict_der", "verify_sig", "derive_key", "b64encode", "b64decode",
    "make_entry", "log_problems", "verify_log", "Micropay2Claims", "CLAIMS",
    # states and transition tables
    "EscrowStatus", "PayerEvent", "WinStatus", "MerchantEvent", "VTSState", "VTSEvent",
    "PAYER_TRANSITIONS", "MERCHANT_TRANSITIONS", "VTS_TRANSITIONS",
    # results and errors
    "Acceptance", "WinRecord", "ClaimResult", "EscrowRecord", "AuditReport", "Finding", "SignedClaim",
    "chain_claims", "AlreadyClaimed", "NoEscrow",
    # stores
    "VTSStore", "MerchantStore", "PayerStore", "SQLiteVTSStore", "SQLiteMerchantStore", "SQLitePayerStore",
]
