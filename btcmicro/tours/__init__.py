"""Guided tours that ``btcmicro demo`` runs on its temporary chain: :func:`run_demo` (:mod:`btcmicro.tours.demo`)
and one module per scheme.

Each tour is a function ``tour(rpc, wallet, workdir, say) -> dict``: it uses the node and
the funded wallet it is given, prints its steps through ``say`` and returns a JSON-able report.
"""
from btcmicro.tours.demo import run_demo

__all__ = ["run_demo"]
