"""Keys, hashes, amounts, encodings and the error tree."""
