"""btcmicro.tx"""
