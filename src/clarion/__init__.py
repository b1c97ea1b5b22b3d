"""Clarion: product events in, explained and measured messages out."""

__version__ = "0.1.0"
