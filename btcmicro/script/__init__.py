"""btcmicro.script"""
