"""The merchant's claim policy: winners are claimed through the VTS(s) from one background thread.

Protocol policy, not transport: the web server (:mod:`btcmicro.service.merchant`) only submits each
winning ticket it accepts; what to retry, how often and when to give up is decided here.
"""
from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from collections.abc import Sequence

from btcmicro.core.errors import NodeError, ProtocolError, ServiceUnavailable
from btcmicro.lottery.micropay2.merchant import ClaimResult, Merchant
from btcmicro.lottery.micropay2.states import WinStatus
from btcmicro.lottery.vts.party import AlreadyClaimed, VTSClient

__all__ = ["Claimer"]


class Claimer:
    """Claims winning tickets through the VTS(s) from one background thread, oldest first.

    On :meth:`start` it resumes every stored winner not yet broadcast. A claim the VTS refuses
    because another claim holds the escrow ends ``lost`` (the merchant records it); one that
    fails for a passing reason (VTS unreachable, node refusing the broadcast) is retried every
    ``retry_seconds``, at most ``attempts`` times; :attr:`results` keeps each winner's last outcome.
    """

    def __init__(self, merchant: Merchant, vtss: Sequence[VTSClient], *, retry_seconds: float = 2.0,
                 attempts: int = 5) -> None:
        self.merchant = merchant
        self.vtss = list(vtss)
        self.retry_seconds = retry_seconds
        self.attempts = attempts
        self.results: dict[bytes, ClaimResult | Exception] = {}
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._retries: list[tuple[float, int, bytes]] = []
        self._tries: dict[bytes, int] = {}
        self._order = itertools.count()
        self._busy = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> Claimer:
        if self._thread is None:
            for rec in self.merchant.winners():
                if rec.status in (WinStatus.WON, WinStatus.SIGNED):
                    self.submit(rec.c)
            self._thread = threading.Thread(target=self._run, name="micropay2-claimer", daemon=True)
            self._thread.start()
        return self

    def submit(self, c: bytes) -> None:
        """Claim the stored winner ``c`` as soon as the thread gets to it."""
        with self._idle:
            self._busy += 1
        self._queue.put(c)

    def _run(self) -> None:
        while True:
            timeout = None
            if self._retries:
                timeout = max(0.0, self._retries[0][0] - time.monotonic())
            try:
                c = self._queue.get(timeout=timeout)
            except queue.Empty:
                _, _, c = heapq.heappop(self._retries)
            if c is None:
                return
            retry = False
            try:
                self.results[c] = self.merchant.claim(c, self.vtss)
            except AlreadyClaimed as e:
                self.results[c] = e
            except (ProtocolError, NodeError, ServiceUnavailable) as e:
                self.results[c] = e
                self._tries[c] = self._tries.get(c, 0) + 1
                retry = self._tries[c] < self.attempts
            except Exception as e:  # a bug must not kill the claimer; the winner stays stored
                self.results[c] = e
            if retry:
                heapq.heappush(self._retries, (time.monotonic() + self.retry_seconds, next(self._order), c))
            else:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until every submitted claim has ended (broadcast, lost or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the claim in progress (queued ones stay stored and resume on the next start)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None
