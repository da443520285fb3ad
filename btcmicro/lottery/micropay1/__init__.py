"""MICROPAY1 (Pass–shelat §2.1, §3.2): the release predicate Π^esc, and MICROPAY1-sub on chain
(SCHEMES.md §2.3): a per-ticket lottery output with size-encoded hash commitments, claimed through a
parent-child package, refunded to the payer after a CSV delay. See docs/micropay1.md."""
from __future__ import annotations

from .messages import Request, Ticket
from .parties import Accepted, Merchant, Payer, a2_of, guesses_of, vsize
from .predicate import Outpoint, Transcript, check_release, commit_r1, release, sigma_digest
from .sqlite import SQLiteMerchantStore, SQLitePayerStore
from .states import MERCHANT, PAYER, EscrowState, MerchantEvent, PayerEvent, RequestState
from .store import EscrowRecord, MerchantStore, PayerStore, RequestRecord
from .templates import LotteryOutput

__all__ = [
    "Accepted", "EscrowRecord", "EscrowState", "LotteryOutput", "MERCHANT", "Merchant", "MerchantEvent",
    "MerchantStore", "Outpoint", "PAYER", "Payer", "PayerEvent", "PayerStore", "Request", "RequestRecord",
    "RequestState", "SQLiteMerchantStore", "SQLitePayerStore", "Ticket", "Transcript", "a2_of", "check_release",
    "commit_r1", "guesses_of", "release", "sigma_digest", "vsize",
]
