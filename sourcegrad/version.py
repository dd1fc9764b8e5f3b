"""sourcegrad's version: in the generated files' headers and their cache key."""

__version__ = "0.1.0"
