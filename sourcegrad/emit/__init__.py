"""Emission: Python text with ast.unparse, the header, the files in generated/ that double as the cache."""
