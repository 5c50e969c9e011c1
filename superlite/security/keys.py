"""Key specifications: the strings that name a signing or verification key in settings.

* ``hmac:<secret>`` (or a bare secret of at least 16 characters): HMAC-SHA256; signs and verifies.
* ``ed25519:<base64 private key>``: signs, and verifies with its public key.
* ``ed25519-public:<base64 public key>``: verifies only (for workers and servers).

:func:`generate_key` makes new ones (``superlite keygen`` prints them).
"""

from __future__ import annotations

import base64
import binascii
import secrets

from superlite.errors import ConfigurationError
from superlite.security.signers import Ed25519Signer, Ed25519Verifier, HmacSigner, Signer, Verifier

HMAC = "hmac"
ED25519 = "ed25519"
ED25519_PUBLIC = "ed25519-public"


def signer_from_spec(spec: str) -> Signer:
    """The signer a ``signing_key`` setting names (an HMAC secret or an Ed25519 private key)."""
    kind, _, value = _split(spec)
    if kind == ED25519:
        return Ed25519Signer(_base64(value, "ed25519 private key"))
    if kind == ED25519_PUBLIC:
        raise ConfigurationError(
            "signing_key is an Ed25519 public key, which cannot sign; put it in verify_keys and give "
            "signing_key only where components are applied"
        )
    return HmacSigner(value)


def verifier_from_spec(spec: str) -> Verifier:
    """The verifier one entry of ``verify_keys`` names (any of the three kinds)."""
    kind, _, value = _split(spec)
    if kind == ED25519_PUBLIC:
        return Ed25519Verifier(_base64(value, "ed25519 public key"))
    return signer_from_spec(spec)


def generate_key(algorithm: str = HMAC) -> tuple[str, str]:
    """A new key: ``(signing_key, verify_key)`` specifications (the same string for HMAC)."""
    if algorithm == HMAC:
        spec = f"{HMAC}:{secrets.token_urlsafe(32)}"
        return spec, spec
    if algorithm == ED25519:
        seed = secrets.token_bytes(32)
        signer = Ed25519Signer(seed)
        return (
            f"{ED25519}:{base64.b64encode(seed).decode()}",
            f"{ED25519_PUBLIC}:{base64.b64encode(signer.public_key).decode()}",
        )
    raise ConfigurationError(f"unknown signing algorithm {algorithm!r}; use {HMAC!r} or {ED25519!r}")


def _split(spec: str) -> tuple[str, str, str]:
    kind, sep, value = spec.partition(":")
    if sep and kind in (HMAC, ED25519, ED25519_PUBLIC):
        return kind, sep, value
    return HMAC, "", spec


def _base64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"the {what} is not valid base64; generate one with `superlite keygen`") from None
