"""Payment-channel schemes: ``bitcoinj`` (v1, v2, segwit v3) and ``dastripathi`` (vouchers, points of sale,
ring vouchers, microcoins); import the package of each."""

__all__: list[str] = []
