"""Sequence Vision Explorer: how sequences enter vision, shown live on your own images."""

__version__ = "0.1.0"
