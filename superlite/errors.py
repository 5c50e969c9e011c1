"""The exceptions superlite raises.

Every error derives from :class:`SuperliteError`, so a caller can catch all of them at once, or
any subclass on its own. Messages name the problem and, where there is one, the fix. URIs in
messages always have their password masked (see :func:`superlite.config.mask_uri`).
"""

from __future__ import annotations

from collections.abc import Sequence


class SuperliteError(Exception):
    """Root of every exception superlite raises."""


class ConfigurationError(SuperliteError):
    """A setting is missing or malformed (for example a bad URI)."""


class ComponentError(SuperliteError, TypeError):
    """A component was built from something it cannot use (e.g. an ObjectModel around an object with nothing to call)."""


class UnknownSchemeError(ConfigurationError):
    """No installed store handles a URI's scheme; the message lists the schemes that are installed."""

    def __init__(self, scheme: str, kind: str, installed: Sequence[str]) -> None:
        self.scheme = scheme
        self.installed = sorted(installed)
        super().__init__(
            f"no {kind} store is installed for URI scheme {scheme!r}; installed schemes: "
            f"{', '.join(self.installed) or '(none)'}. Install the plugin that provides it "
            f"(for example `pip install superlite[mongodb]`) or fix the URI."
        )


class InvalidArgumentError(SuperliteError, ValueError):
    """An argument has the right type but a value outside what it accepts (the message names both)."""


class ArgumentTypeError(SuperliteError, TypeError):
    """An argument has a type it does not accept (the message names the argument and the value)."""


class StoreUnavailableError(SuperliteError):
    """A database or artifact store could not be reached or opened."""


class StorageFullError(StoreUnavailableError):
    """The disk (or database) that holds the stores has no room left; nothing was half-written.

    Raised for ``ENOSPC`` from a file store and for "database or disk is full" from a database.
    """


class StoreDataError(SuperliteError, ValueError):
    """A store refused a value superlite handed it, or holds a record it cannot read back.

    The message names the value or the record; a damaged record is left as it is for repair.
    """


class DatalayerClosedError(SuperliteError):
    """A method of a :class:`~superlite.datalayer.Datalayer` was called after :meth:`close`."""


class SchemaVersionError(SuperliteError):
    """The database was written by a newer superlite whose schema this release cannot read."""


class NotFoundError(SuperliteError, LookupError):
    """A component (or one version of it) does not exist.

    ``available`` holds what does exist at the level that failed (identifiers or versions),
    and the message lists it.
    """

    def __init__(self, message: str, available: Sequence[object] = ()) -> None:
        self.available = list(available)
        super().__init__(message)


class NoDatabaseError(NotFoundError):
    """A read-only open (``connect(..., create=False)``, the CLI's read commands) found no superlite database.

    ``uri`` is the masked URI and ``reason`` what was missing (the file, superlite's tables).
    """

    def __init__(self, uri: str, reason: str) -> None:
        self.uri = uri
        self.reason = reason
        super().__init__(
            f"no superlite database at {uri} ({reason}). Check the URI (or $SUPERLITE_URI); a database is "
            f"created by the first write to it, e.g. superlite.connect(uri).apply(model)."
        )


class VersionConflictError(SuperliteError):
    """A version number was taken by a concurrent writer; :meth:`Datalayer.apply` retries on it."""


class IntegrityError(SuperliteError):
    """Stored bytes do not match their SHA-256: the artifact is corrupt and was not deserialized."""


class DependencyError(SuperliteError):
    """A component cannot be removed because others still depend on it (pass ``force=True``)."""


class StoredClassImportError(SuperliteError, ImportError):
    """The class a component was stored with cannot be imported in this process.

    ``class_path`` is the stored class, ``name`` the module that failed, ``reason`` why it failed.
    """

    def __init__(self, class_path: str, module: str, cause: BaseException | str, hint: str = "") -> None:
        self.class_path = class_path
        self.reason = str(cause)
        super().__init__(
            f"cannot import class {class_path!r} (module {module!r} failed: {cause}). "
            f"Install or move back the code that defines it, or re-apply the component "
            f"from its new location.{' ' + hint if hint else ''}",
            name=module,
        )


class UntrustedClassError(SuperliteError):
    """A record names a class superlite will not build: not a ``Component`` subclass, or in a
    module outside the ``allowed_modules`` setting. Nothing was built (see ``docs/security.md``)."""


class SignatureError(SuperliteError):
    """A record is unsigned, or its signature does not verify with any accepted key, while
    signatures are required or checked: nothing it names was imported or unpickled (see
    ``docs/security.md``)."""


class SerializationError(SuperliteError):
    """An object could not be serialized or deserialized by the chosen codec."""


class ComputeError(SuperliteError):
    """Dispatching a computation failed before the model ran (broker, queue, timeout)."""


class RemoteError(SuperliteError):
    """A model raised an exception while running on a worker.

    ``exc_type`` is the qualified name of the original exception type, ``exc_message`` its
    message and ``remote_traceback`` the traceback text as the worker printed it.
    """

    def __init__(self, exc_type: str, exc_message: str, remote_traceback: str = "") -> None:
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.remote_traceback = remote_traceback
        super().__init__(f"{exc_type}: {exc_message}")

    def __str__(self) -> str:
        text = f"{self.exc_type}: {self.exc_message}"
        if self.remote_traceback:
            text += f"\n\nRemote traceback:\n{self.remote_traceback}"
        return text


class SwapError(SuperliteError):
    """An alias move was refused: a worker following the alias could not load or warm up its new target.

    The alias did not move (the old version keeps serving) and the refusal is recorded in the
    alias's history. ``failures`` maps each worker id (``host:pid``) to its reason.
    """

    def __init__(self, message: str, failures: dict[str, str]) -> None:
        self.failures = dict(failures)
        super().__init__(message)


class CompositeError(SuperliteError):
    """A child of a composite model (a pipeline step, a route, an ensemble member) failed.

    ``composite`` names the composite, ``member`` the child that failed; the child's own
    exception is chained as ``__cause__``. An ensemble whose members all failed lists every one
    in ``failures`` (``{member: message}``).
    """

    def __init__(self, composite: str, member: str, message: str, failures: dict[str, str] | None = None) -> None:
        self.composite = composite
        self.member = member
        self.failures = dict(failures or {member: message})
        super().__init__(f"{composite!r}: {member!r} failed: {message}")
