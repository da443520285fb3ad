"""A registry of template classes: which contracts a script is, and which path a spend takes.

:class:`Registry` is the mechanism; the list of registered templates lives in one place above the
scheme packages, :mod:`btcmicro.registry`, so that this package imports no scheme.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from bitcoin.core import CTransaction

from btcmicro.contracts.base import Spend, Template

__all__ = ["Registry"]


class Registry:
    """An ordered list of template classes, most specific first.

    ``prefer`` names, per wrapping, the class to read first when one script is several contracts
    (a bare 2-of-2 is a plain multisig, a bitcoinj v1 deposit and a paper MICROPAY2 escrow at once:
    how it is wrapped on the chain says which one it most likely is).
    """

    def __init__(self, templates: Iterable[type[Template]] = (),
                 prefer: Mapping[str, type[Template]] | None = None) -> None:
        self._templates: list[type[Template]] = []
        self._prefer: dict[str, type[Template]] = dict(prefer or {})
        for cls in templates:
            self.register(cls)

    @property
    def templates(self) -> tuple[type[Template], ...]:
        """The registered classes, in the order :meth:`recognise` tries them."""
        return tuple(self._templates)

    def register(self, cls: type[Template], *, before: type[Template] | None = None) -> type[Template]:
        """Add ``cls`` (at the end, or just before ``before``); returns ``cls``.

        A class more specific than one already registered (its scripts are a subset of the other's)
        goes before it, so :meth:`recognise` lists the specific reading first.
        """
        if not (isinstance(cls, type) and issubclass(cls, Template)):
            raise TypeError(f"{cls!r} is not a Template subclass")
        if cls in self._templates:
            raise ValueError(f"{cls.__name__} is already registered")
        if before is None:
            self._templates.append(cls)
        else:
            self._templates.insert(self._templates.index(before), cls)
        return cls

    def unregister(self, cls: type[Template]) -> None:
        """Remove ``cls`` (ValueError if it is not registered)."""
        self._templates.remove(cls)
        for w in [w for w, c in self._prefer.items() if c is cls]:
            del self._prefer[w]

    @contextmanager
    def registered(self, cls: type[Template], *, before: type[Template] | None = None) -> Iterator[type[Template]]:
        """``cls`` registered for the duration of a ``with`` block (for tests and one-off readers)."""
        self.register(cls, before=before)
        try:
            yield cls
        finally:
            self.unregister(cls)

    def recognise(self, script: bytes, wrapping: str | None = None) -> list[Template]:
        """Every registered template whose script is exactly ``script``, most specific first (with
        ``wrapping``, the class preferred for it first)."""
        script = bytes(script)
        out = [t for t in (cls.from_script(script) for cls in self._templates) if t is not None]
        first = self._prefer.get(wrapping or "")
        if first is not None:
            out.sort(key=lambda t: 0 if type(t) is first else 1)
        return out

    def classify(self, script: bytes, spend: Spend, wrapping: str | None = None, tx: CTransaction | None = None,
                 index: int = 0, amount: int | None = None) -> tuple[Template, str | None] | None:
        """The first reading of ``script`` and the path ``spend`` takes through it, or None if no
        registered template is ``script`` (see :meth:`Template.classify` for what each argument adds)."""
        found = self.recognise(script, wrapping)
        if not found:
            return None
        t = found[0]
        return t, t.classify(spend, wrapping, tx, index, amount)

    def __iter__(self) -> Iterator[type[Template]]:
        return iter(self.templates)

    def __len__(self) -> int:
        return len(self._templates)

    def __contains__(self, cls: object) -> bool:
        return cls in self._templates
