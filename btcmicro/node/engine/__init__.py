"""btcmicro.node.engine"""
