"""Das–Tripathi micropayments (SCHEMES.md §6): the voucher channel (Micropay 1, §6.1) and points
of sale with accountable assertions (Micropay 2, §6.2) and ring-signed vouchers that expire per
collection slot (Micropay 3, §6.3, reconstructed), on one P2WSH channel script; and chameleon-hash
microcoins settled through that channel (§6.4, reconstructed; :mod:`.microcoins`).

- :mod:`.templates`: :class:`DasTripathiChannel`, ``IF 2 <pk_esc> <pk_B> 2 CHECKMULTISIG ELSE <t>
  CLTV DROP <pk_2> CHECKSIG ENDIF``;
- :mod:`.messages`: Offer, Open, Voucher (the signed state), Payment, Receipt;
- :mod:`.contract`: the terms and every transaction derived from them;
- :mod:`.states`: the parties' states and transition tables;
- :mod:`.stores` / :mod:`.sqlite`: the store ports (microcoins' too) and their SQLite adapters;
- :mod:`.payer`, :mod:`.merchant`: the parties; :mod:`.collector`: Micropay 2's collection.
"""
from btcmicro.channels.dastripathi.collector import Collection, collect
from btcmicro.channels.dastripathi.contract import WRAPPING, ChannelTerms
from btcmicro.channels.dastripathi.merchant import (
    DEFAULT_FEE,
    DEFAULT_MARGIN,
    DEFAULT_SLOT,
    Merchant,
    required_penalty,
    sign_voucher,
)
from btcmicro.channels.dastripathi.messages import (
    AnyVoucher,
    Offer,
    Open,
    Payment,
    Receipt,
    RingVoucher,
    Voucher,
    decode_voucher,
    voucher_digest,
)
from btcmicro.channels.dastripathi.microcoins import (
    Microcoin,
    MicrocoinIssuer,
    MicrocoinParams,
    MicrocoinReceiver,
    MicrocoinSetup,
    commit_key,
    commit_secret,
)
from btcmicro.channels.dastripathi.payer import ASSERTION_SCHEMES, Payer
from btcmicro.channels.dastripathi.sqlite import SQLiteMerchantStore, SQLiteMicrocoinStore, SQLitePayerStore
from btcmicro.channels.dastripathi.states import (
    COIN_TRANSITIONS,
    MERCHANT_TRANSITIONS,
    PAYER_TRANSITIONS,
    CoinEvent,
    CoinStatus,
    MerchantEvent,
    MerchantStatus,
    PayerEvent,
    PayerStatus,
)
from btcmicro.channels.dastripathi.stores import (
    AssertionRecord,
    CoinChain,
    MerchantChannel,
    MerchantStore,
    MicrocoinStore,
    PayerChannel,
    PayerStore,
    SpentVoucher,
)
from btcmicro.channels.dastripathi.templates import DasTripathiChannel

__all__ = [
    "DasTripathiChannel",
    "ChannelTerms",
    "WRAPPING",
    "Offer",
    "Open",
    "Voucher",
    "RingVoucher",
    "AnyVoucher",
    "decode_voucher",
    "Payment",
    "Receipt",
    "voucher_digest",
    "Merchant",
    "sign_voucher",
    "DEFAULT_FEE",
    "DEFAULT_MARGIN",
    "DEFAULT_SLOT",
    "required_penalty",
    "Payer",
    "ASSERTION_SCHEMES",
    "Microcoin",
    "MicrocoinIssuer",
    "MicrocoinParams",
    "MicrocoinReceiver",
    "MicrocoinSetup",
    "commit_key",
    "commit_secret",
    "Collection",
    "collect",
    "PayerStatus",
    "PayerEvent",
    "MerchantStatus",
    "MerchantEvent",
    "PAYER_TRANSITIONS",
    "MERCHANT_TRANSITIONS",
    "CoinStatus",
    "CoinEvent",
    "COIN_TRANSITIONS",
    "CoinChain",
    "MicrocoinStore",
    "SQLiteMicrocoinStore",
    "MerchantStore",
    "PayerStore",
    "MerchantChannel",
    "PayerChannel",
    "SpentVoucher",
    "AssertionRecord",
    "SQLiteMerchantStore",
    "SQLitePayerStore",
]
