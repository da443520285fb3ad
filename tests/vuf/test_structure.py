"""The VUF package's shape: its parties import ports, never adapters (sqlite3, httpx), and its public
surface is pinned."""
from __future__ import annotations

import pytest

import btcmicro.lottery.vuf as vuf
from tests.micropay2.test_party_imports import FORBIDDEN, _chain, closure

PARTIES = ["btcmicro.lottery.vuf.payer", "btcmicro.lottery.vuf.merchant", "btcmicro.lottery.vuf.vts",
           "btcmicro.lottery.vuf.messages", "btcmicro.lottery.vuf.prover"]


@pytest.mark.parametrize("party", PARTIES)
def test_party_imports_no_adapter(party: str) -> None:
    seen = closure(party)
    bad = sorted(FORBIDDEN & set(seen))
    assert not bad, "; ".join(_chain(seen, b) for b in bad)


def test_public_surface_is_pinned() -> None:
    assert sorted(vuf.__all__) == sorted([
        "Payer", "Merchant", "VTS", "audit", "NoEscrow", "ClaimResult", "AlreadyClaimed", "BoardEntry", "verify_log",
        "Offer", "T", "Ticket", "VufClaim", "VufClaims", "CLAIMS",
        "OFFER_TAG", "TICKET_TAG", "CLAIM_TAG", "BOARD_TAG", "PROOF_SIZE",
        "merchant_id", "sigma_digest", "vrf_input", "wins_beta",
        "EscrowStatus", "PayerEvent", "WinStatus", "MerchantEvent", "VTSState", "VTSEvent",
        "PAYER_TRANSITIONS", "MERCHANT_TRANSITIONS", "VTS_TRANSITIONS",
        "Acceptance", "WinRecord", "EscrowRecord", "MerchantStore", "PayerStore", "VufVTSStore",
        "SQLiteMerchantStore", "SQLitePayerStore", "SQLiteVufVTSStore",
    ])
    assert all(hasattr(vuf, name) for name in vuf.__all__)
