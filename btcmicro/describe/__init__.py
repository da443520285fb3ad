"""A view people can read: scripts and transactions with templates, keys, expiries, amounts and fees.

``describe_script(hex_or_bytes)`` and ``describe_tx(hex_or_bytes, spent=None, scripts=())`` return
views with ``to_dict()`` (JSON-ready: sats as ints, BTC as decimal strings, bytes as hex) and
``render()`` (text laid out like the example transactions of the Pass–shelat paper, which print
libbitcoin's ``bx`` format: ``transaction { hash … inputs { input { previous_output { … } script "…"
sequence … } } lock_time … outputs { output { address … script "…" value … } } version … }``).

Templates are recognised by the registry (:mod:`btcmicro.registry`) from a redeem/witness script (or
a bare scriptPubKey); a spending input's path is named by its template's ``classify``. This package
names no scheme: a template registered there is described here without a change.
"""
from btcmicro.describe._common import bx_script
from btcmicro.describe.script import ScriptView, describe_script
from btcmicro.describe.tx import InputView, OutputView, TxView, describe_tx

__all__ = ["ScriptView", "TxView", "InputView", "OutputView", "describe_script", "describe_tx", "bx_script"]
