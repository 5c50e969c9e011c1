"""Test support that plugins reuse: the store contract suite and service discovery.

Importing this package needs pytest; nothing in superlite's runtime imports it.
"""
