"""BB6 iterated-hash delay; the pinned values were computed with coreutils ``sha256sum`` in a shell loop."""
from __future__ import annotations

import pytest

from btcmicro.core.errors import ConfigError, ProtocolError
from btcmicro.core.hashes import hash256
from btcmicro.crypto import delay

# the regtest genesis block hash, as `bitcoin-cli getblockhash 0` prints it
GENESIS = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"
PINNED = {
    1: "38beec28e0acae5bffd9c6de930e6b9812db5cc4ed228a08114586387ac9796c",
    2: "a1472c0b727f15fa2e3a07d8f741442103eda26796b78ccc54d2498899d742f6",
    3: "5113de1c45e24f9b5a6361aed54ca9f1a79f46eecf7116e77ccd161b28f0f9e0",
    1000: "a3bafe0e685d7555c61e44b881428c56fabcf531755943440fa5f45f45f1c4f7",
}


@pytest.mark.parametrize("iterations", sorted(PINNED))
def test_draw_value_pinned_on_display_order_bytes(iterations: int) -> None:
    assert delay.draw_value(GENESIS, iterations).hex() == PINNED[iterations]


def test_byte_order_is_display_order() -> None:
    internal = bytes.fromhex(GENESIS)[::-1]
    assert delay.display_order(internal).hex() == GENESIS
    assert delay.iterated_sha256(delay.display_order(internal), 1).hex() == PINNED[1]
    assert delay.iterated_sha256(internal, 1).hex() != PINNED[1]


def test_zero_and_two_iterations() -> None:
    assert delay.iterated_sha256(b"seed", 0) == b"seed"
    assert delay.iterated_sha256(b"seed", 2) == hash256(b"seed")


def test_bad_parameters_and_bad_hashes() -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError):
            delay.iterated_sha256(b"x", bad)  # type: ignore[arg-type]  # a wrong type on purpose
    for bad_hash in ("zz" * 32, GENESIS[:-2], GENESIS + "00"):
        with pytest.raises(ProtocolError):
            delay.draw_value(bad_hash, 1)
    with pytest.raises(ConfigError):
        delay.display_order(b"\x00" * 31)


@pytest.mark.parametrize("iterations", [0, 7, 64, 100])
def test_checkpoints(iterations: int) -> None:
    seed = bytes.fromhex(GENESIS)
    output, checkpoints = delay.delay_with_checkpoints(seed, iterations, 16)
    assert output == delay.iterated_sha256(seed, iterations)
    assert len(checkpoints) == iterations // 16
    assert delay.verify_checkpoints(seed, iterations, 16, output, checkpoints)
    for i in range(len(checkpoints) + 1):
        assert delay.verify_checkpoints(seed, iterations, 16, output, checkpoints, segments=[i])
    if checkpoints:
        bad = list(checkpoints)
        bad[0] = b"\x00" * 32
        assert not delay.verify_checkpoints(seed, iterations, 16, output, bad)
        assert not delay.verify_checkpoints(seed, iterations, 16, output, bad, segments=[0])
        assert not delay.verify_checkpoints(seed, iterations, 16, output, checkpoints[:-1])
    assert not delay.verify_checkpoints(seed, iterations, 16, b"\x01" * 32, checkpoints)
    with pytest.raises(ConfigError):
        delay.verify_checkpoints(seed, iterations, 16, output, checkpoints, segments=[99])
