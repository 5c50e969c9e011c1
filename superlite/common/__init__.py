"""Small mechanisms every layer shares, one per module: URIs, JSON values, imports, retries, leases,
error-message wording.

Nothing here imports another part of superlite (``errors`` aside), so any layer may use it.
"""
