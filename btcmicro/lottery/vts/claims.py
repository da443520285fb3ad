"""What the VTS asks of a scheme: a claim, and a checker that decodes one.

The VTS, its board and the audit are shared by every scheme with a Verifiable Transaction Service
(MICROPAY2 now; MICROPAY3 and the VUF variant next). They never import a scheme: a scheme hands
them a :class:`ClaimChecker`, which turns bytes into a :class:`Claim`, and registers it
(:func:`register_checker`) so a board entry can be decoded by its tag.

A :class:`Claim` is the witness a merchant sends to have an escrow released to it: it names its
escrow's outpoint and the VTS keys the escrow names, lists every reason it does not entitle its
sender to the claim (:meth:`Claim.problems`, empty when it does), and gives the digest the VTS
signs (:meth:`Claim.claim_sighash`). A claim may also give ``escrow_output``, the (value,
scriptPubKey) its escrow must have on chain: a VTS holding a chain view checks it before signing
(and refuses a claim without it). Its encoding is canonical (one byte string per claim), so
"the same claim again" is a byte comparison.
"""
from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

from btcmicro.core.errors import ProtocolError

__all__ = ["Claim", "ClaimChecker", "register_checker", "checker_for"]


@runtime_checkable
class Claim(Protocol):
    """A decoded claim witness (MICROPAY2's ``ClaimWitness`` is one)."""

    @property
    def outpoint(self) -> tuple[str, int]:
        """The escrow it claims: (txid in display order, vout)."""
        ...

    @property
    def vts_keys(self) -> tuple[bytes, ...]:
        """The VTS keys its escrow names (a VTS signs only for an escrow naming its key)."""
        ...

    @property
    def board_tag(self) -> bytes:
        """The domain tag of the board entries that publish claims of this scheme."""
        ...

    def problems(self) -> list[tuple[str, str]]:
        """Every reason this claim does not entitle its sender to the escrow, as (code, detail); [] if it does."""
        ...

    def claim_sighash(self) -> bytes:
        """The 32-byte digest the VTS signs (σ_T) when it grants the claim."""
        ...

    def encode(self) -> bytes:
        """The one canonical encoding (what the board publishes)."""
        ...


C_co = TypeVar("C_co", bound=Claim, covariant=True)


class ClaimChecker(Protocol[C_co]):
    """A scheme's claims as the VTS reads them: a board tag and a strict decoder.

    ``decode`` must raise :class:`~btcmicro.core.errors.ProtocolError` for anything but a
    canonical claim of this scheme, and must not consult the chain.
    """

    @property
    def board_tag(self) -> bytes: ...

    def decode(self, data: bytes) -> C_co: ...


_CHECKERS: dict[bytes, ClaimChecker[Any]] = {}


def register_checker(checker: ClaimChecker[Any]) -> None:
    """Make a scheme's board entries decodable by their tag (each scheme registers once, at import)."""
    tag = bytes(checker.board_tag)
    for other in _CHECKERS:
        if other != tag and (other.startswith(tag) or tag.startswith(other)):
            raise ValueError(f"board tag {tag!r} is a prefix of {other!r} or the reverse")
    _CHECKERS[tag] = checker


def checker_for(data: bytes, what: str = "board entry") -> tuple[bytes, ClaimChecker[Any]]:
    """(tag, checker) of the registered scheme whose board tag starts ``data``; ``BAD_TAG`` if none."""
    for tag, checker in _CHECKERS.items():
        if data.startswith(tag):
            return tag, checker
    raise ProtocolError("BAD_TAG", f"{what}: does not start with the board tag of a known scheme")
