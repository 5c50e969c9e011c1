"""Signed records: what is signed, where the signature is kept, and the check before loading.

A record's signature covers its identity (uuid, type, identifier, version), the class path, the
parameters, every artifact's name, SHA-256, size and serializer, the dependencies, and the
version metadata fixed at apply (``info`` without ``tags``, which may change later). Artifacts
are covered through their digests: the artifact pipeline checks each digest before anything
is deserialized, so a verified record only ever unpickles the bytes its signer wrote.

The signature is kept in the record's ``info`` under :data:`SIGNATURE_FIELD` as
``{"key": key_id, "value": base64}``: written in the same insert as the record, carried by
every store and by export archives without a schema change, and never part of the content hash.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections.abc import Mapping

from superlite.errors import ConfigurationError, SignatureError
from superlite.security.keys import signer_from_spec, verifier_from_spec
from superlite.security.signers import Signer, Verifier
from superlite.stores.base import ComponentRecord

#: The ``info`` entry that holds a record's signature.
SIGNATURE_FIELD = "record_signature"

#: ``info`` entries a signature does not cover (they change after a version is stored).
UNSIGNED_INFO = frozenset({SIGNATURE_FIELD, "tags"})

#: Distinguishes superlite record signatures from anything else signed with the same key.
DOMAIN = "superlite-record-v1"


def signed_payload(record: ComponentRecord) -> bytes:
    """The canonical bytes a record's signature covers."""
    content = {
        "domain": DOMAIN,
        "uuid": record.uuid,
        "type_id": record.type_id,
        "identifier": record.identifier,
        "version": record.version,
        "class_path": record.class_path,
        "params": record.params,
        "content_hash": record.content_hash,
        "artifacts": [[a.name, a.digest, a.size, a.serializer] for a in record.artifacts],
        "dependencies": list(record.dependencies),
        "info": {k: v for k, v in record.info.items() if k not in UNSIGNED_INFO},
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class RecordSigning:
    """Signs records as they are stored and checks them before they are loaded.

    ``signer`` signs new records (None: they are stored unsigned). ``verifiers`` are the keys a
    signature may verify with (the signer's own and older ones kept for a rotation). With
    ``required``, an unsigned record is refused; a signature made with an unknown key, or
    that does not verify, is refused whenever any key is configured.
    """

    def __init__(self, signer: Signer | None, verifiers: tuple[Verifier, ...], required: bool) -> None:
        if required and not verifiers:
            raise ConfigurationError(
                "require_signatures is set but no key is configured: give signing_key (where components are "
                "applied) or verify_keys (where they are only loaded), or $SUPERLITE_SIGNING_KEY"
            )
        self.signer = signer
        self.verifiers = {verifier.key_id: verifier for verifier in verifiers}
        self.required = required

    @classmethod
    def from_settings(cls, signing_key: str | None, verify_keys: tuple[str, ...], required: bool) -> RecordSigning:
        """Build from the settings' key specifications (:mod:`superlite.security.keys`)."""
        signer = signer_from_spec(signing_key) if signing_key else None
        verifiers = tuple(verifier_from_spec(spec) for spec in verify_keys)
        return cls(signer, ((signer,) if signer else ()) + verifiers, required)

    @property
    def active(self) -> bool:
        """Whether records are signed or checked at all."""
        return bool(self.verifiers)

    def sign(self, record: ComponentRecord) -> ComponentRecord:
        """``record`` with a fresh signature by the signing key (unchanged when there is none)."""
        if self.signer is None:
            return record
        signature = self.signer.sign(signed_payload(record))
        value = {"key": self.signer.key_id, "value": base64.b64encode(signature).decode()}
        return dataclasses.replace(record, info={**record.info, SIGNATURE_FIELD: value})

    def check(self, record: ComponentRecord) -> None:
        """Raise :class:`SignatureError` unless ``record`` may be loaded under these settings."""
        if not self.active:
            return
        what = f"{record.type_id} {record.identifier!r} version {record.version} (uuid {record.uuid})"
        stored = record.info.get(SIGNATURE_FIELD)
        if stored is None:
            if self.required:
                raise SignatureError(
                    f"{what} is not signed and signatures are required; nothing was loaded. Apply it again with "
                    "a signing key, or sign the records you trust with `superlite db sign --unsigned`"
                )
            return
        key_id, signature = _parse(stored, what)
        verifier = self.verifiers.get(key_id)
        if verifier is None:
            raise SignatureError(
                f"{what} is signed by key {key_id}, which is not one of the accepted keys "
                f"({', '.join(self.verifiers)}); nothing was loaded. Add that key to verify_keys if you trust it"
            )
        if not verifier.verify(signed_payload(record), signature):
            raise SignatureError(
                f"the signature of {what} does not verify with key {key_id}: the record was changed after it "
                "was signed; nothing was loaded. Apply the component again from a trusted source"
            )

    def verifies(self, record: ComponentRecord) -> str | None:
        """The key id ``record`` verifies with, or None (unsigned, unknown key or bad signature)."""
        stored = record.info.get(SIGNATURE_FIELD)
        if stored is None or not self.active:
            return None
        try:
            self.check(record)
        except SignatureError:
            return None
        return stored["key"]  # type: ignore[index,no-any-return]


def _parse(stored: object, what: str) -> tuple[str, bytes]:
    if isinstance(stored, Mapping) and isinstance(stored.get("key"), str) and isinstance(stored.get("value"), str):
        try:
            return stored["key"], base64.b64decode(stored["value"], validate=True)
        except (binascii.Error, ValueError):
            pass
    raise SignatureError(f"the signature of {what} is malformed ({stored!r}); nothing was loaded")
