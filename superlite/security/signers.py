"""Signers: the two ways superlite signs bytes, behind one small interface.

* :class:`HmacSigner`: HMAC-SHA256 with a shared secret. Every process that verifies can also
  sign, so every worker holding the secret is as trusted as whoever applies models.
* :class:`Ed25519Signer` / :class:`Ed25519Verifier`: a private key signs (only where models
  are applied), a public key verifies (workers, servers). Needs the ``cryptography`` package
  (``pip install "superlite[signing]"``), imported only when an Ed25519 key is used.

Each key has a ``key_id`` stored beside every signature, so that during a key rotation a
reader knows which of its accepted keys to verify with.
"""

from __future__ import annotations

import abc
import hashlib
import hmac
from typing import Any

from superlite.errors import ConfigurationError

#: The fewest characters an HMAC secret may have.
MIN_SECRET_LENGTH = 16


class Verifier(abc.ABC):
    """Checks signatures made with one key, named by :attr:`key_id`."""

    #: ``<algorithm>:<16 hex digits>``, derived from the key; safe to print.
    key_id: str

    @abc.abstractmethod
    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's signature of ``data``."""


class Signer(Verifier):
    """A key that can sign as well as verify."""

    @abc.abstractmethod
    def sign(self, data: bytes) -> bytes:
        """The signature of ``data``."""


class HmacSigner(Signer):
    """HMAC-SHA256 with a shared secret of at least :data:`MIN_SECRET_LENGTH` characters."""

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"an HMAC signing key must have at least {MIN_SECRET_LENGTH} characters, not {len(secret)}; "
                "generate one with `superlite keygen`"
            )
        self._secret = secret.encode()
        self.key_id = "hmac-sha256:" + hmac.new(self._secret, b"superlite key id", hashlib.sha256).hexdigest()[:16]

    def sign(self, data: bytes) -> bytes:
        """HMAC-SHA256 of ``data``."""
        return hmac.new(self._secret, data, hashlib.sha256).digest()

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Compare in constant time."""
        return hmac.compare_digest(self.sign(data), signature)

    def __repr__(self) -> str:
        return f"HmacSigner({self.key_id!r})"


class Ed25519Verifier(Verifier):
    """Verifies Ed25519 signatures with a 32-byte public key."""

    def __init__(self, public_key: bytes) -> None:
        ed25519 = _ed25519()
        try:
            self._public = ed25519.Ed25519PublicKey.from_public_bytes(public_key)
        except ValueError as exc:
            raise ConfigurationError(f"not an Ed25519 public key ({exc}); it is 32 bytes, base64-encoded") from None
        self.key_id = "ed25519:" + hashlib.sha256(public_key).hexdigest()[:16]

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether the signature verifies with the public key."""
        from cryptography.exceptions import InvalidSignature

        try:
            self._public.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"Ed25519Verifier({self.key_id!r})"


class Ed25519Signer(Ed25519Verifier, Signer):
    """Signs with a 32-byte Ed25519 private key (its seed); verifies with the matching public key."""

    def __init__(self, private_key: bytes) -> None:
        ed25519 = _ed25519()
        try:
            self._private = ed25519.Ed25519PrivateKey.from_private_bytes(private_key)
        except ValueError as exc:
            raise ConfigurationError(f"not an Ed25519 private key ({exc}); it is 32 bytes, base64-encoded") from None
        super().__init__(self.public_key)

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key, for the processes that only verify."""
        from cryptography.hazmat.primitives import serialization

        return self._private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, data: bytes) -> bytes:
        """The Ed25519 signature of ``data``."""
        return self._private.sign(data)

    def __repr__(self) -> str:
        return f"Ed25519Signer({self.key_id!r})"


def _ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise ConfigurationError(
            "Ed25519 keys need the cryptography package: pip install 'superlite[signing]' "
            "(or use an HMAC key, hmac:<secret>)"
        ) from None
    return ed25519
