"""The pure domain: values, catalog schema, rules and ``decide()``.

Nothing in this package performs I/O or imports outside the standard library.
"""
