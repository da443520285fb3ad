"""btcmicro.contracts: contract templates, above ``tx`` (which it uses to size and sign spends).

- :class:`Template`: the base every scheme's template derives from (script, output per wrapping,
  named spend paths, exact sizes, signing, and ``classify`` to read a spend back to its path);
- :class:`Expiry`, :class:`Spend`, :class:`SpendSize`, :class:`Output`, :class:`TemplateError`;
- :class:`MultisigMofN`: plain m-of-n CHECKMULTISIG;
- :class:`Registry`: which templates a script is; the registered list is in :mod:`btcmicro.registry`.

Each scheme keeps its own templates in its package (``btcmicro.channels.bitcoinj.templates``,
``btcmicro.lottery.micropay2.templates``, ``btcmicro.lottery.micropay3``); nothing here imports a
scheme, and neither ``script`` nor ``tx`` imports this package.
"""
from btcmicro.contracts.base import (
    LOCKTIME_THRESHOLD,
    MAX_LOCKTIME,
    MAX_SIG_SIZE,
    SEGWIT_WRAPPINGS,
    WRAPPINGS,
    Expiry,
    Output,
    Spend,
    SpendSize,
    Template,
    TemplateError,
    checked_key,
    is_signature,
)
from btcmicro.contracts.multisig import MultisigM_of_N, MultisigMofN
from btcmicro.contracts.registry import Registry

__all__ = [
    "Template",
    "TemplateError",
    "Expiry",
    "Spend",
    "SpendSize",
    "Output",
    "MultisigMofN",
    "MultisigM_of_N",
    "Registry",
    "WRAPPINGS",
    "SEGWIT_WRAPPINGS",
    "LOCKTIME_THRESHOLD",
    "MAX_LOCKTIME",
    "MAX_SIG_SIZE",
    "checked_key",
    "is_signature",
]
