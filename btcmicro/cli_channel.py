"""``btcmicro channel ...``: bitcoinj-style payment channels from the command line."""
from __future__ import annotations

import click

__all__ = ["channel_group"]


@click.group("channel")
def channel_group() -> None:
    """Payment channels (bitcoinj v1, v2 and segwit v3): serve, open, pay, close, refund."""
