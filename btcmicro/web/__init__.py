"""btcmicro.web: the metered service's pages (static HTML with inline JavaScript, no build step).

- ``meter.html``: the client app's login page (the paper's Figure 4, its strings verbatim) and the
  live view that follows it without a reload (polls ``/api/state`` four times a second);
- ``router.html``: the router operator's page (open channels, usage, income, lock-time margins).

The services serve them with :func:`page`.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["STATIC_DIR", "PAGES", "page"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGES = ("meter.html", "router.html")


@cache
def page(name: str) -> str:
    """The text of one of :data:`PAGES`."""
    if name not in PAGES:
        raise KeyError(name)
    return (STATIC_DIR / name).read_text(encoding="utf-8")
