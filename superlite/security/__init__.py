"""Security: signing of component records (and so of their artifacts), see ``docs/security.md``.

:class:`RecordSigning` signs records as they are stored and refuses, before anything is
imported or unpickled, those that are unsigned (when signatures are required) or whose
signature does not verify. Keys are named by strings (:mod:`superlite.security.keys`):
HMAC-SHA256 with a shared secret, or Ed25519 through the optional ``cryptography`` package.
"""

from superlite.security.keys import generate_key, signer_from_spec, verifier_from_spec
from superlite.security.records import SIGNATURE_FIELD, RecordSigning, signed_payload
from superlite.security.signers import Ed25519Signer, Ed25519Verifier, HmacSigner, Signer, Verifier

__all__ = [
    "SIGNATURE_FIELD",
    "Ed25519Signer",
    "Ed25519Verifier",
    "HmacSigner",
    "RecordSigning",
    "Signer",
    "Verifier",
    "generate_key",
    "signed_payload",
    "signer_from_spec",
    "verifier_from_spec",
]
