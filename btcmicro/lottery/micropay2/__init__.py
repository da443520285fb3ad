"""MICROPAY2 (Pass & shelat, CCS 2015, §2.2 and §3.3) on Bitcoin: escrows, lottery tickets, the
Verifiable Transaction Service, its bulletin board and audit.

The parties are pure classes (no sockets, no sleeping; clock and randomness injected) over a
:class:`~btcmicro.node.chain.Chain` and a store:

- :class:`Payer` funds escrows (step 1), checks requests and issues tickets (step 3), refunds;
- :class:`Merchant` issues stateless requests (step 2), checks tickets (step 4), claims winners
  through the VTS and broadcasts the claim (step 5);
- :class:`VTS` signs a winning claim at most once per escrow and publishes it on its
  :class:`Board`; :func:`audit` checks a VTS against its board and the chain.

Messages (:class:`PaymentRequest`, :class:`Ticket`, :class:`ClaimWitness`, :class:`BoardEntry`)
have one canonical binary encoding each and a base64url text form; see
:mod:`btcmicro.lottery.micropay2.messages` for the layouts.
"""
from btcmicro.lottery.micropay2.audit import AuditReport, Finding, SignedClaim, audit, chain_claims
from btcmicro.lottery.micropay2.board import BOARD_TAG, Board, BoardEntry, log_problems, make_entry, verify_log
from btcmicro.lottery.micropay2.merchant import ClaimResult, Merchant
from btcmicro.lottery.micropay2.messages import (
    CLAIM_TAG,
    MAX_K,
    REQUEST_TAG,
    SIGMA_TAG,
    TICKET_TAG,
    ClaimWitness,
    EscrowRef,
    PaymentRequest,
    Ticket,
    b64decode,
    b64encode,
    claim_fee,
    claim_sighash,
    claim_tx,
    claim_vsize,
    is_strict_der,
    sigma_digest,
    verify_sig,
    wins,
)
from btcmicro.lottery.micropay2.payer import Funding, NoEscrow, Payer
from btcmicro.lottery.micropay2.store import (
    Acceptance,
    EscrowRecord,
    MerchantStore,
    PayerStore,
    SQLiteMerchantStore,
    SQLitePayerStore,
    SQLiteVTSStore,
    VTSStore,
    WinRecord,
)
from btcmicro.lottery.micropay2.vts import VTS, AlreadyClaimed, VTSClient

__all__ = [
    # parties
    "Payer", "Merchant", "VTS", "VTSClient", "Board", "audit",
    # messages
    "PaymentRequest", "Ticket", "ClaimWitness", "EscrowRef", "BoardEntry",
    "REQUEST_TAG", "TICKET_TAG", "CLAIM_TAG", "SIGMA_TAG", "BOARD_TAG", "MAX_K",
    "wins", "sigma_digest", "claim_tx", "claim_sighash", "claim_vsize", "claim_fee",
    "is_strict_der", "verify_sig", "b64encode", "b64decode",
    "make_entry", "log_problems", "verify_log",
    # results and errors
    "Acceptance", "WinRecord", "ClaimResult", "EscrowRecord", "AuditReport", "Finding", "SignedClaim",
    "chain_claims", "AlreadyClaimed", "NoEscrow", "Funding",
    # stores
    "VTSStore", "MerchantStore", "PayerStore", "SQLiteVTSStore", "SQLiteMerchantStore", "SQLitePayerStore",
]
