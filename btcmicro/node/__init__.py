"""btcmicro.node"""
