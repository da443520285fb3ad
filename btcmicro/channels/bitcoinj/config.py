"""The numbers a channel party works with, bitcoinj's defaults kept as configuration."""
from __future__ import annotations

from dataclasses import dataclass

from btcmicro.core.errors import ConfigError

__all__ = ["VERSIONS", "DEFAULT_FEERATE", "ServerConfig", "ClientConfig", "expiry_is_height", "blocks_for"]

#: sat/kvB of deposits, refunds and settlements: the wallet's default (``btcmicro.wallet.funder``'s
#: ``DEFAULT_FEERATE``, which a test pins equal), written here so the parties need no wallet module.
DEFAULT_FEERATE = 2000

#: Protocol majors: 1 and 2 are bitcoinj's, 3 is the segwit channel (P2WSH of the v2 script).
VERSIONS = (1, 2, 3)
HOUR = 3_600
DAY = 24 * HOUR


def expiry_is_height(version: int, override: bool | None) -> bool:
    """Whether a ``version`` channel expires at a block height: version 3 by default, 1 and 2
    (bitcoinj) at a time; ``override`` decides when given."""
    return version == 3 if override is None else override


def blocks_for(seconds: int, block_interval_secs: int) -> int:
    """Blocks that take about ``seconds`` (rounded up, at least 1)."""
    return max(1, -(-seconds // block_interval_secs))


def _check_versions(versions: tuple[int, ...]) -> None:
    if not versions or any(v not in VERSIONS for v in versions):
        raise ConfigError(f"versions must be drawn from {VERSIONS}, got {versions}")


@dataclass(frozen=True)
class ServerConfig:
    """What the server accepts and when it settles.

    - ``versions``: the majors it speaks; ``expiry_by_height``: None for each version's default
      (height for 3, time for 1 and 2), or force one kind;
    - ``min_time_window_secs``..``max_time_window_secs``: the client's window it accepts (bitcoinj:
      4 h to 7 days); with height expiry the window is counted in ``block_interval_secs`` blocks;
    - ``min_channel_size`` (INITIATE's min_accepted_channel_size) and ``min_payment`` (1,000 sats);
    - ``close_margin_secs`` (2 h) / ``close_margin_blocks``: the watcher settles this long before
      the expiry, judged by median-time-past or by height;
    - ``close_feerate`` (sat/kvB) of the settlement, paid from the server's share;
    - ``close_confirmations``: a channel is forgotten once its settlement has this many.
    """

    versions: tuple[int, ...] = VERSIONS
    expiry_by_height: bool | None = None
    min_time_window_secs: int = 4 * HOUR
    max_time_window_secs: int = 7 * DAY
    block_interval_secs: int = 600
    min_channel_size: int = 100_000
    min_payment: int = 1_000
    close_margin_secs: int = 2 * HOUR
    close_margin_blocks: int = 12
    close_feerate: int = DEFAULT_FEERATE
    close_confirmations: int = 6

    def __post_init__(self) -> None:
        _check_versions(self.versions)
        if not 0 < self.min_time_window_secs <= self.max_time_window_secs:
            raise ConfigError("need 0 < min_time_window_secs <= max_time_window_secs")
        if self.min_payment < 1 or self.min_channel_size < self.min_payment:
            raise ConfigError("need 1 <= min_payment <= min_channel_size")
        if self.close_confirmations < 1 or self.block_interval_secs < 1:
            raise ConfigError("close_confirmations and block_interval_secs must be positive")


@dataclass(frozen=True)
class ClientConfig:
    """What the client asks for and accepts.

    - ``version``: the major it speaks (3 by default; 2 and 1 are bitcoinj's);
    - ``time_window_secs``: how long the deposit may stay locked (bitcoinj: 86,340 s, a minute under
      a day); an INITIATE expiring later than that (plus ``expiry_slack_secs``, or the window in
      blocks plus ``expiry_slack_blocks``) is refused with TIME_WINDOW_UNACCEPTABLE;
    - ``max_min_payment``: a larger minimum payment is refused with MIN_PAYMENT_TOO_LARGE;
    - ``feerate`` (sat/kvB) of the deposit and the refund;
    - ``refund_confirmations``: the refund counts as done at this depth.
    """

    version: int = 3
    time_window_secs: int = 86_340
    block_interval_secs: int = 600
    expiry_slack_secs: int = 60
    expiry_slack_blocks: int = 2
    max_min_payment: int = 10_000
    feerate: int = DEFAULT_FEERATE
    refund_confirmations: int = 1

    def __post_init__(self) -> None:
        _check_versions((self.version,))
        if self.time_window_secs <= 0 or self.block_interval_secs <= 0 or self.refund_confirmations < 1:
            raise ConfigError("time_window_secs, block_interval_secs and refund_confirmations must be positive")
