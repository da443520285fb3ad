"""btcmicro.tx: size and fees, Core relay policy, building, signing and decoding transactions."""
from btcmicro.tx.build import *  # noqa: F401,F403
from btcmicro.tx.build import __all__ as _build_all
from btcmicro.tx.decode import *  # noqa: F401,F403
from btcmicro.tx.decode import __all__ as _decode_all
from btcmicro.tx.policy import *  # noqa: F401,F403
from btcmicro.tx.policy import __all__ as _policy_all
from btcmicro.tx.sign import *  # noqa: F401,F403
from btcmicro.tx.sign import __all__ as _sign_all
from btcmicro.tx.size import *  # noqa: F401,F403
from btcmicro.tx.size import __all__ as _size_all

__all__ = [*_size_all, *_policy_all, *_build_all, *_sign_all, *_decode_all]
