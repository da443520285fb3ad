"""btcmicro.channels.bitcoinj.metered: Bloomer & Nishimura's "metercoin", Wi-Fi sold per megabyte.

- :class:`Tariff` (sats per megabyte, sold in increments) and :class:`Meter` (bytes per channel
  against the prepaid allotment);
- :class:`MeteredRouter`: a channel server whose payments raise each channel's allotment, grants
  proxy tokens to the holder of a channel's client key, closes channels out of funds;
- the key server's split keys (:func:`derive_keys`: one password, an encryption key that stays with
  the client and a login key the server checks) and :class:`KeyServer`;
- :class:`MeterSession`: the client app's logic and its states (:data:`METER_TRANSITIONS`).

The proxy, the HTTP services and the pages live in :mod:`btcmicro.service.router`,
:mod:`btcmicro.service.keyserver`, :mod:`btcmicro.service.meter` and :mod:`btcmicro.web`.
"""
from btcmicro.channels.bitcoinj.metered.keys import (
    SCRYPT_N,
    Account,
    AccountStore,
    JSONAccountStore,
    KeyServer,
    SplitKeys,
    derive_keys,
    login_verifier,
    open_key,
    seal_key,
)
from btcmicro.channels.bitcoinj.metered.meter import DEFAULT_PRICE, MEGABYTE, Meter, Tariff, Usage
from btcmicro.channels.bitcoinj.metered.router import MeteredRouter, RouterEvent, grant_digest, sign_grant
from btcmicro.channels.bitcoinj.metered.session import (
    METER_TRANSITIONS,
    PAPER_FIELDS,
    ClientFactory,
    KeyPort,
    MeterSession,
    MeterState,
    ObservedTransport,
    RouterPort,
)

__all__ = [
    "DEFAULT_PRICE",
    "MEGABYTE",
    "METER_TRANSITIONS",
    "PAPER_FIELDS",
    "SCRYPT_N",
    "Account",
    "AccountStore",
    "ClientFactory",
    "JSONAccountStore",
    "KeyPort",
    "KeyServer",
    "Meter",
    "MeterSession",
    "MeterState",
    "MeteredRouter",
    "ObservedTransport",
    "RouterEvent",
    "RouterPort",
    "SplitKeys",
    "Tariff",
    "Usage",
    "derive_keys",
    "grant_digest",
    "login_verifier",
    "open_key",
    "seal_key",
    "sign_grant",
]
