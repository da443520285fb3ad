"""Shared helpers for the crypto tests."""
from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest


def seeded_rng(seed: int) -> Callable[[int], bytes]:
    """A deterministic ``rng(n)``: SHA-256 in counter mode over ``seed``."""
    counter = 0

    def rng(n: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed.to_bytes(8, "big") + counter.to_bytes(8, "big")).digest()
            counter += 1
        return out[:n]

    return rng


@pytest.fixture
def rng() -> Callable[[int], bytes]:
    return seeded_rng(1)
