"""The registered contract templates: the one list readers of scripts (``describe``) ask.

It sits above the scheme packages (it imports each scheme's templates; no scheme imports it), so
:mod:`btcmicro.contracts` stays free of scheme names. Registration is these explicit lines, never an
import side effect.

To add a scheme's template: import its class below and add it to :data:`TEMPLATES`, before any
template whose scripts include its own (most specific first; :class:`~btcmicro.contracts.MultisigMofN`
stays last). If its script can also be read as another scheme's, say in :data:`PREFERRED` which
reading comes first for the wrapping it is normally found in. At run time (tests, plug-ins)
:func:`register` / :func:`registered` add a class to :data:`REGISTRY` without editing this file.
"""
from __future__ import annotations

from contextlib import AbstractContextManager

from bitcoin.core import CTransaction

from btcmicro.channels.bitcoinj.templates import BitcoinjV1Channel, BitcoinjV2Channel
from btcmicro.channels.dastripathi.templates import DasTripathiChannel
from btcmicro.contracts import MultisigMofN, Registry, Spend, Template
from btcmicro.lottery.microcash.templates import MicrocashBurnEscrow, MicrocashEscrow
from btcmicro.lottery.micropay1.templates import LotteryOutput
from btcmicro.lottery.micropay2.templates import Micropay2Escrow
from btcmicro.lottery.micropay3.templates import Micropay3Escrow

__all__ = ["TEMPLATES", "PREFERRED", "REGISTRY", "recognise", "classify", "register", "unregister", "registered"]

#: Every scheme's templates, most specific first (the order :func:`recognise` lists a script's readings).
TEMPLATES: tuple[type[Template], ...] = (
    BitcoinjV2Channel,
    Micropay2Escrow,
    Micropay3Escrow,
    LotteryOutput,
    DasTripathiChannel,
    MicrocashEscrow,
    MicrocashBurnEscrow,
    BitcoinjV1Channel,
    MultisigMofN,
)

#: A bare 2-of-2 is a plain multisig, a bitcoinj v1 deposit (client, server) and a paper MICROPAY2
#: escrow (pk_T, pk_esc) at once: bare is how bitcoinj v1 deposits look, P2SH how the paper's escrow does.
PREFERRED: dict[str, type[Template]] = {
    "bare": BitcoinjV1Channel,
    "p2sh": Micropay2Escrow,
}

REGISTRY = Registry(TEMPLATES, prefer=PREFERRED)


def recognise(script: bytes, wrapping: str | None = None) -> list[Template]:
    """Every registered template whose script is exactly ``script``, most specific first.

    A bare 2-of-2 is at once a plain multisig, a bitcoinj v1 deposit (client, server) and a paper
    MICROPAY2 escrow (pk_T, pk_esc): all three are returned; the roles are read from key order.
    With ``wrapping`` the reading :data:`PREFERRED` for it comes first.
    """
    return REGISTRY.recognise(script, wrapping)


def classify(script: bytes, spend: Spend, wrapping: str | None = None, tx: CTransaction | None = None,
             index: int = 0, amount: int | None = None) -> tuple[Template, str | None] | None:
    """The first reading of ``script`` and the name of the path ``spend`` takes through it."""
    return REGISTRY.classify(script, spend, wrapping, tx, index, amount)


def register(cls: type[Template], *, before: type[Template] | None = None) -> type[Template]:
    """Add a template class to :data:`REGISTRY` at run time (at the end, or before ``before``)."""
    return REGISTRY.register(cls, before=before)


def unregister(cls: type[Template]) -> None:
    """Remove a template class from :data:`REGISTRY`."""
    REGISTRY.unregister(cls)


def registered(cls: type[Template], *, before: type[Template] | None = None
               ) -> AbstractContextManager[type[Template]]:
    """``with registered(MyTemplate): ...``: ``cls`` in :data:`REGISTRY` for the block only."""
    return REGISTRY.registered(cls, before=before)
