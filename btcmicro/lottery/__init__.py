"""btcmicro.lottery: probabilistic (lottery-ticket) micropayment schemes.

- :mod:`btcmicro.lottery.micropay2`: Pass–shelat MICROPAY2, escrows co-signed by a Verifiable
  Transaction Service (VTS), with its bulletin board and audit.
"""

__all__ = ["micropay2"]
