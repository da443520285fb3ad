"""MICROPAY3's parties import ports only (no sqlite3, no httpx), the shared packages import no scheme,
and the package's public surface is pinned."""
from __future__ import annotations

import pytest

import btcmicro.lottery.micropay3 as mp3
from tests.micropay2.test_party_imports import _chain, closure

PARTIES = ["btcmicro.lottery.micropay3.payer", "btcmicro.lottery.micropay3.merchant",
           "btcmicro.lottery.micropay3.vts", "btcmicro.lottery.micropay3.audit"]


@pytest.mark.parametrize("party", PARTIES)
def test_party_imports_no_adapter(party: str) -> None:
    seen = closure(party)
    bad = sorted({"sqlite3", "httpx"} & set(seen))
    assert not bad, "; ".join(_chain(seen, b) for b in bad)


def test_no_other_scheme_imported() -> None:
    for party in PARTIES + ["btcmicro.lottery.micropay3.sqlite"]:
        seen = closure(party)
        others = sorted(m for m in seen if m.startswith(("btcmicro.lottery.micropay2", "btcmicro.lottery.vuf",
                                                         "btcmicro.channels")))
        assert not others, "; ".join(_chain(seen, m) for m in others)


def test_public_surface() -> None:
    assert sorted(mp3.__all__) == sorted([
        "ABORT_KIND", "Acceptance", "BOARD_TAG", "CLAIMS", "DEFAULT_WINDOW", "Escrow1Ref", "EscrowRecord",
        "EscrowStatus", "FeeCoin", "MERCHANT_TRANSITIONS", "Merchant", "MerchantEvent", "MerchantStore",
        "Micropay3Escrow", "Micropay3VTS", "Micropay3VTSClient", "Micropay3VTSStore", "NoEscrow", "ORPHAN_KIND",
        "OrphanRequest", "PAYER_TRANSITIONS", "Payer", "PayerEvent", "PayerStore", "PaymentRequest", "Prize",
        "PrizeRefused", "PrizeSigner", "REGTEST_GENESIS", "Receipt", "Release", "SIGHASH_SINGLE_ACP",
        "SQLiteMerchantStore", "SQLiteMicropay3VTSStore", "SQLitePayerStore", "Ticket", "WinRecord", "WinStatus",
        "audit", "chain_claims", "release_fee", "release_sighash", "release_tx", "release_vsize", "sigma_digest",
        "tx1_sighash", "tx1_vsize", "wins_of"])
    assert all(hasattr(mp3, name) for name in mp3.__all__)
