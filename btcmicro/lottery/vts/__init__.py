"""The Verifiable Transaction Service shared by the lottery schemes (MICROPAY2 now; MICROPAY3 and
the VUF variant next): the VTS party, its bulletin board, its store port and SQLite adapter, and
the audit. Nothing here imports a scheme: a scheme hands the VTS a
:class:`~btcmicro.lottery.vts.claims.ClaimChecker` and registers it for its board tag.

- :class:`VTS`: signs a claim with no problem at most once per escrow, atomically with its board
  entry (:data:`VTS_TRANSITIONS` is its state table);
- :class:`Board`, :class:`BoardEntry`, :func:`verify_log`: the hash-chained, signed log;
- :class:`BoardFollower`: a merchant's incremental, checked view of which escrows a VTS has claimed;
- :func:`audit`: the log against the chain, with the scheme's :class:`ChainClaims` finder;
- :class:`VTSStore` (the port) and :class:`SQLiteVTSStore` (its adapter).
"""
from btcmicro.lottery.vts.audit import (
    AuditReport,
    ChainClaims,
    Finding,
    SignedClaim,
    audit,
    script_pushes,
    spent_output,
)
from btcmicro.lottery.vts.board import GENESIS, Board, BoardEntry, log_problems, make_entry, read_sig, verify_log
from btcmicro.lottery.vts.claims import Claim, ClaimChecker, checker_for, register_checker
from btcmicro.lottery.vts.follower import BoardFollower, BoardReader
from btcmicro.lottery.vts.party import VTS, VTS_TRANSITIONS, AlreadyClaimed, VTSClient, VTSEvent, VTSState
from btcmicro.lottery.vts.sqlite import SQLiteVTSStore
from btcmicro.lottery.vts.store import VTSStore

__all__ = [
    "VTS", "VTSClient", "AlreadyClaimed", "VTSState", "VTSEvent", "VTS_TRANSITIONS",
    "Claim", "ClaimChecker", "register_checker", "checker_for",
    "Board", "BoardEntry", "GENESIS", "make_entry", "log_problems", "verify_log", "read_sig",
    "audit", "AuditReport", "Finding", "SignedClaim", "ChainClaims", "script_pushes", "spent_output",
    "VTSStore", "SQLiteVTSStore",
    "BoardFollower", "BoardReader",
]
