"""Guided tours that ``btcmicro demo`` runs on its temporary chain, one module per scheme.

Each tour is a function ``tour(rpc, wallet, workdir, say) -> dict``: it uses the node and
the funded wallet it is given, prints its steps through ``say`` and returns a JSON-able report.
"""
