"""MICROPAY2-NI: Pass & shelat's non-interactive variant with a VUF (CCS'15 §2.4; SCHEMES.md §4) on
MICROPAY2's escrow ``2 <pk_T> <pk_esc> 2 CHECKMULTISIG`` (with its CLTV refund).

The merchant publishes one :class:`Offer` (its ECVRF key f_m, its address a_M, ρ = 2^-k, the price);
per ticket the payer sends σ (BIP340 over (t, a_M, f_m, k, escrow)) and σ1 (the claim escrow → a_M);
the merchant proves (β, π) = ECVRF(sk, σ) and wins when int(β) < ρ·2^256; the VTS verifies σ, σ1,
π and the win before co-signing, once per escrow and once per t, and its board publishes
(σ, y, π, t, a_M). No request round trip.

Layout: ``messages`` (wire forms and the VTS's claim checker), ``payer``, ``merchant``, ``vts``
(the parties), ``prover`` (the merchant's ECVRF prover and the VTS's verifier), ``audit``, ``states``,
``store`` (ports), ``sqlite`` (adapters).
"""
from btcmicro.lottery.vts import VTS_TRANSITIONS, AlreadyClaimed, BoardEntry, VTSEvent, VTSState, verify_log
from btcmicro.lottery.vuf.audit import audit
from btcmicro.lottery.vuf.merchant import MERCHANT_TRANSITIONS, ClaimResult, Merchant
from btcmicro.lottery.vuf.messages import (
    BOARD_TAG,
    CLAIM_TAG,
    CLAIMS,
    OFFER_TAG,
    PROOF_SIZE,
    TICKET_TAG,
    Offer,
    T,
    Ticket,
    VufClaim,
    VufClaims,
    merchant_id,
    sigma_digest,
    vrf_input,
    wins_beta,
)
from btcmicro.lottery.vuf.payer import PAYER_TRANSITIONS, NoEscrow, Payer
from btcmicro.lottery.vuf.sqlite import SQLiteMerchantStore, SQLitePayerStore, SQLiteVufVTSStore
from btcmicro.lottery.vuf.states import EscrowStatus, MerchantEvent, PayerEvent, WinStatus
from btcmicro.lottery.vuf.store import Acceptance, EscrowRecord, MerchantStore, PayerStore, VufVTSStore, WinRecord
from btcmicro.lottery.vuf.vts import VTS

__all__ = [
    "Payer", "Merchant", "VTS", "audit", "NoEscrow", "ClaimResult", "AlreadyClaimed", "BoardEntry", "verify_log",
    "Offer", "T", "Ticket", "VufClaim", "VufClaims", "CLAIMS",
    "OFFER_TAG", "TICKET_TAG", "CLAIM_TAG", "BOARD_TAG", "PROOF_SIZE",
    "merchant_id", "sigma_digest", "vrf_input", "wins_beta",
    "EscrowStatus", "PayerEvent", "WinStatus", "MerchantEvent", "VTSState", "VTSEvent",
    "PAYER_TRANSITIONS", "MERCHANT_TRANSITIONS", "VTS_TRANSITIONS",
    "Acceptance", "WinRecord", "EscrowRecord", "MerchantStore", "PayerStore", "VufVTSStore",
    "SQLiteMerchantStore", "SQLitePayerStore", "SQLiteVufVTSStore",
]
