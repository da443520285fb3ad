"""``btcmicro micropay2 ...``, ``btcmicro vts serve``, ``btcmicro merchant serve``: MICROPAY2 from the command line."""
from __future__ import annotations

import click

__all__ = ["micropay2_group", "vts_group", "merchant_group"]


@click.group("micropay2")
def micropay2_group() -> None:
    """MICROPAY2 lottery payments (Pass & shelat): escrows, tickets, claims, refunds, audit."""


@click.group("vts")
def vts_group() -> None:
    """The Verifiable Transaction Service that co-signs winning MICROPAY2 claims."""


@click.group("merchant")
def merchant_group() -> None:
    """A MICROPAY2 merchant web server (/base, /ask, /buy)."""
