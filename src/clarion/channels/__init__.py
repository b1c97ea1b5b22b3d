"""Providers, one module each, behind the small ``Provider`` protocol of ``base``."""
