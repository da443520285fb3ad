"""MICROPAY3 (Pass–shelat §2.3). For now only its contract: the second escrow's template."""
from btcmicro.lottery.micropay3.templates import Micropay3Escrow

__all__ = ["Micropay3Escrow"]
