"""btcmicro.wallet"""
