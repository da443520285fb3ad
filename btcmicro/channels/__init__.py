"""Payment-channel schemes: ``bitcoinj`` (v1, v2, segwit v3, the metered router)."""
