"""btcmicro.lottery: probabilistic (lottery-ticket) micropayment schemes.

Shared by every scheme (a shared package never imports a scheme; a scheme never imports another):

- :mod:`btcmicro.lottery.common`: the win rule (ρ = 2^-k on r1 ⊕ r2), rho, ticket randomness,
  key derivation, the signature checks a lottery reads, and :class:`~btcmicro.lottery.common.Transitions`
  (one transition table per party);
- :mod:`btcmicro.lottery.vts`: the Verifiable Transaction Service, its bulletin board, its store
  port and SQLite adapter, and the audit, for any scheme that hands the VTS a claim checker.

Schemes:

- :mod:`btcmicro.lottery.micropay2`: Pass–shelat MICROPAY2, escrows co-signed by a VTS;
- :mod:`btcmicro.lottery.micropay3`: MICROPAY3 (its escrow template so far).
"""

__all__ = ["common", "vts", "micropay2"]
