"""Keys, hashes, amounts, strict DER, encodings and the error tree; import the module of each."""

__all__: list[str] = []
