"""btcmicro.script: output scripts, addresses, ASM and descriptors (regtest).

Importing this package selects python-bitcoinlib's regtest parameters once.
"""
import bitcoin as _bitcoin

_bitcoin.SelectParams("regtest")

from btcmicro.script.standard import *  # noqa: E402,F401,F403
from btcmicro.script.standard import __all__ as _standard_all  # noqa: E402

__all__ = list(_standard_all)

from btcmicro.script.descriptor import *  # noqa: E402,F401,F403
from btcmicro.script.descriptor import __all__ as _descriptor_all  # noqa: E402

__all__ += list(_descriptor_all)

from btcmicro.script.templates import *  # noqa: E402,F401,F403
from btcmicro.script.templates import __all__ as _templates_all  # noqa: E402

__all__ += list(_templates_all)
