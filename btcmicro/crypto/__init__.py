"""Cryptography libsecp256k1 does not hand us ready (filled in below)."""
