"""Settings: read once into a typed, immutable object and passed to whatever needs them.

There is no module-level mutable configuration. :func:`superlite.connect` builds a
:class:`Settings` from its arguments, falling back to environment variables, and the
:class:`~superlite.datalayer.Datalayer` owns it from then on.

Options are grouped by the part they tune: :class:`StoreOptions` (SQL and MongoDB stores),
:class:`CacheOptions` (the model cache of the executor), :class:`CeleryOptions` (remote
compute), :class:`SwapOptions` (hot swaps) and :class:`SecurityOptions` (signing, class allow-list). ``connect`` takes them flat
(``connect(uri, queue="gpu", cache_mb=512)``): every option name belongs to exactly one group. An unknown name or a value of the wrong type is a
:class:`~superlite.errors.ConfigurationError` naming the option and what was expected.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from superlite.common.uris import MASK, mask_uri, unencoded_userinfo, uri_scheme
from superlite.errors import ConfigurationError

__all__ = [
    "CacheOptions",
    "CeleryOptions",
    "SecurityOptions",
    "Settings",
    "SwapOptions",
    "StoreOptions",
    "default_uri",
    "mask_uri",
    "uri_scheme",
]

DEFAULT_DIRECTORY = ".superlite"
DEFAULT_DATABASE_FILE = "superlite.db"

ENV_URI = "SUPERLITE_URI"
ENV_ARTIFACTS = "SUPERLITE_ARTIFACTS"
ENV_BROKER = "SUPERLITE_BROKER"
ENV_SIGNING_KEY = "SUPERLITE_SIGNING_KEY"
ENV_VERIFY_KEYS = "SUPERLITE_VERIFY_KEYS"
ENV_REQUIRE_SIGNATURES = "SUPERLITE_REQUIRE_SIGNATURES"
ENV_ALLOWED_MODULES = "SUPERLITE_ALLOWED_MODULES"

#: Environment variables holding security options, and the option each one sets.
_SECURITY_ENV = {
    ENV_SIGNING_KEY: "signing_key",
    ENV_VERIFY_KEYS: "verify_keys",
    ENV_REQUIRE_SIGNATURES: "require_signatures",
    ENV_ALLOWED_MODULES: "allowed_modules",
}


#: Options whose values are keys: shown as ``***`` by the reprs.
_SECRET_OPTIONS = frozenset({"signing_key", "verify_keys"})


def _masked_repr(options: object) -> str:
    """The repr of an option group with URIs masked (:func:`mask_uri`) and keys hidden."""
    shown = []
    for f in dataclasses.fields(options):  # type: ignore[arg-type]
        value = getattr(options, f.name)
        if f.name in _SECRET_OPTIONS and value:
            value = MASK if isinstance(value, str) else tuple(MASK for _ in value)
        elif isinstance(value, str) and uri_scheme(value):
            value = mask_uri(value)
        shown.append(f"{f.name}={value!r}")
    return f"{type(options).__name__}({', '.join(shown)})"


def default_uri(cwd: Path | None = None) -> str:
    """The embedded default: a SQLite file under ``./.superlite/`` (created on demand)."""
    directory = (cwd or Path.cwd()) / DEFAULT_DIRECTORY
    return f"sqlite:///{directory / DEFAULT_DATABASE_FILE}"


@dataclass(frozen=True)
class StoreOptions:
    """How the metadata and artifact stores connect.

    ``connect_timeout``: seconds to wait for a database server. ``busy_timeout``: seconds a
    SQLite writer waits for another process's write. ``auto_upgrade``: run pending schema
    migrations when connecting (else a database that needs them is refused until
    ``superlite db upgrade`` runs). ``gc_grace``: seconds an artifact stays after its last
    put or use before :meth:`~superlite.datalayer.Datalayer.remove` or ``collect_garbage`` may
    delete it once unreferenced; raise it above the clock difference between the machines that
    apply and those that remove or collect (see ``docs/concepts.md``). ``create``: create the
    database (SQLite file, superlite's tables) when missing; ``False`` raises
    :class:`~superlite.errors.NoDatabaseError` instead, as the CLI's read-only commands do.
    ``artifact_hash``: the content hash new artifacts are addressed by, ``"blake3"`` (fast) or
    ``"sha256"`` (what releases before BLAKE3 wrote); artifacts of either kind are always read.
    """

    connect_timeout: float = 5.0
    busy_timeout: float = 60.0
    auto_upgrade: bool = True
    gc_grace: float = 0.0
    create: bool = True
    artifact_hash: str = "blake3"

    __repr__ = _masked_repr


@dataclass(frozen=True)
class CacheOptions:
    """The executor's model cache: at most ``cache_items`` models and ``cache_mb`` MiB (None: no bound).

    The result cache of models declared ``cache=``: in Redis at ``result_cache`` (a ``redis://``
    URL) when given, else in the broker's Redis when the broker is Redis, else in the process,
    at most ``result_cache_items`` answers.
    """

    cache_mb: float | None = None
    cache_items: int | None = 32
    result_cache: str | None = None
    result_cache_items: int = 10_000

    __repr__ = _masked_repr


@dataclass(frozen=True)
class CeleryOptions:
    """Remote compute on Celery workers (used only with a broker; see ``docs/workers.md``).

    ``queue``: where tasks go. ``timeout``: seconds a caller waits for an answer when it gives
    none. ``parallelism``: chunks ``predict_batches`` splits into. ``result_backend``: where
    results go (default: Redis itself, ``rpc://`` for RabbitMQ). ``result_expires``: seconds an
    unread result stays in Redis. ``visibility_timeout``: Redis only, seconds after which a task
    taken by a vanished worker is delivered again. ``caller_batching``: concurrent ``predict``
    calls of a model that declares ``batching`` leave this process as shared ``predict_batches``
    tasks, at most ``parallelism`` of them in flight per model (see ``docs/serving.md``).
    """

    queue: str = "superlite"
    timeout: float = 300.0
    parallelism: int = 8
    result_backend: str | None = None
    result_expires: int = 600
    visibility_timeout: float = 120.0
    caller_batching: bool = True

    __repr__ = _masked_repr


@dataclass(frozen=True)
class SwapOptions:
    """Two-phase alias moves on following workers (see ``docs/lifecycle.md``).

    ``swap_timeout``: seconds a move waits for live following workers to load and warm its new
    target before it goes ahead without the ones still loading. ``swap_poll``: seconds between
    two looks at their readiness. ``alias_refresh``: seconds between two reads of the change
    feed by which alias-following proxies of this Datalayer learn of moves made elsewhere; they
    reuse an alias state until then, so a call costs no alias read (0: read the alias at every
    call, so a move is seen at the next call).
    """

    swap_timeout: float = 60.0
    swap_poll: float = 0.05
    alias_refresh: float = 0.2

    __repr__ = _masked_repr


@dataclass(frozen=True)
class SecurityOptions:
    """What a process trusts in the records it loads (see ``docs/security.md``).

    ``signing_key``: signs every record this process stores (``hmac:<secret>`` or
    ``ed25519:<base64 private key>``; ``superlite keygen`` makes one). ``verify_keys``: further
    keys a record's signature may verify with (older keys during a rotation, or an Ed25519
    public key ``ed25519-public:<base64>`` on processes that only load). ``require_signatures``:
    refuse unsigned records. Signatures are checked whenever a key is given; they are checked
    before anything a record names is imported or unpickled. ``allowed_modules``: when given,
    only classes from these modules (or their submodules) are built from records; in any case
    only subclasses of ``Component`` are. The repr never shows the keys.
    """

    signing_key: str | None = None
    verify_keys: tuple[str, ...] = ()
    require_signatures: bool = False
    allowed_modules: tuple[str, ...] | None = None

    __repr__ = _masked_repr


_GROUPS: dict[str, type] = {
    "store": StoreOptions, "cache": CacheOptions, "celery": CeleryOptions, "swap": SwapOptions,
    "security": SecurityOptions,
}


def _group_of_option() -> dict[str, str]:
    return {f.name: group for group, cls in _GROUPS.items() for f in dataclasses.fields(cls)}


@dataclass(frozen=True)
class Settings:
    """Everything a :class:`~superlite.datalayer.Datalayer` is configured with.

    ``uri`` selects the metadata store (and, unless ``artifacts`` is set, the artifact store);
    ``broker`` selects Celery compute (``None`` keeps compute in-process). The option groups
    tune each part. Build one with :meth:`resolve` (validated) or directly (trusted).
    """

    uri: str
    artifacts: str | None = None
    broker: str | None = None
    store: StoreOptions = field(default_factory=StoreOptions)
    cache: CacheOptions = field(default_factory=CacheOptions)
    celery: CeleryOptions = field(default_factory=CeleryOptions)
    swap: SwapOptions = field(default_factory=SwapOptions)
    security: SecurityOptions = field(default_factory=SecurityOptions)

    @classmethod
    def resolve(
        cls,
        uri: str | None = None,
        *,
        artifacts: str | None = None,
        broker: str | None = None,
        environ: Mapping[str, str] | None = None,
        **options: object,
    ) -> Settings:
        """Build settings from explicit arguments, then ``$SUPERLITE_*`` variables, then defaults.

        ``options`` are flat option names of any group; ``None`` means "the default". The
        security options also come from ``$SUPERLITE_SIGNING_KEY``, ``$SUPERLITE_VERIFY_KEYS``
        and ``$SUPERLITE_ALLOWED_MODULES`` (comma-separated) and ``$SUPERLITE_REQUIRE_SIGNATURES``
        (``1``/``true``), so that keys need not appear on a command line.
        """
        env = os.environ if environ is None else environ
        for name, value in (("uri", uri), ("artifacts", artifacts), ("broker", broker)):
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(f"{name} must be a URI string, not {type(value).__qualname__} ({value!r})")
            if value and name != "broker" and not uri_scheme(value):
                raise ConfigurationError(_not_a_uri(name, value))
            _check_userinfo(name, value)
        return cls(
            uri=uri or env.get(ENV_URI) or default_uri(),
            artifacts=artifacts or env.get(ENV_ARTIFACTS) or None,
            broker=broker or env.get(ENV_BROKER) or None,
        ).with_options(**_security_environment(env)).with_options(**options)

    def with_options(self, **options: object) -> Settings:
        """A copy with some options changed, validated (flat names, as :func:`superlite.connect` takes)."""
        owners = _group_of_option()
        changes: dict[str, dict[str, object]] = {}
        for name, value in options.items():
            group = owners.get(name)
            if group is None:
                raise ConfigurationError(_unknown_option(name, owners))
            if value is not None:
                changes.setdefault(group, {})[name] = _checked(name, value, _GROUPS[group])
            if name in _URI_OPTIONS:
                _check_userinfo(name, value)
        return dataclasses.replace(
            self, **{group: dataclasses.replace(getattr(self, group), **values) for group, values in changes.items()}
        )

    def __repr__(self) -> str:
        return (
            f"Settings(uri={mask_uri(self.uri)!r}, artifacts={mask_uri(self.artifacts)!r}, "
            f"broker={mask_uri(self.broker)!r}, store={self.store!r}, cache={self.cache!r}, celery={self.celery!r}, "
            f"swap={self.swap!r}, security={self.security!r})"
        )


#: Options whose values are URIs.
_URI_OPTIONS = frozenset({"result_cache", "result_backend"})


def _check_userinfo(name: str, value: object) -> None:
    if isinstance(value, str) and unencoded_userinfo(value):
        raise ConfigurationError(
            f"{name} {mask_uri(value)!r} has a user name or password holding '@' or '/' that is not "
            "percent-encoded, so drivers would read part of it as the host; write @ as %40, / as %2F "
            "and : as %3A (urllib.parse.quote(password, safe=''))"
        )


def _security_environment(env: Mapping[str, str]) -> dict[str, object]:
    options: dict[str, object] = {}
    for variable, name in _SECURITY_ENV.items():
        value = env.get(variable)
        if not value:
            continue
        if name == "require_signatures":
            options[name] = _flag(variable, value)
        elif name in ("verify_keys", "allowed_modules"):
            options[name] = tuple(part.strip() for part in value.split(",") if part.strip())
        else:
            options[name] = value
    return options


def _flag(variable: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"${variable} must be 1/true/yes or 0/false/no, not {value!r}")


def _not_a_uri(name: str, value: str) -> str:
    path = Path(value).expanduser().absolute()
    example = f"sqlite:///{path}" if name == "uri" else f"file://{path}"
    return f"{name} {value!r} is not a URI (it has no scheme://); for a path on disk write {example}"


def known_options() -> list[str]:
    """Every option name :func:`superlite.connect` accepts, sorted."""
    return sorted(_group_of_option())


def _unknown_option(name: str, owners: Mapping[str, str]) -> str:
    close = difflib.get_close_matches(name, owners, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown option {name!r}{hint}; known options: {', '.join(sorted(owners))}"


def _checked(name: str, value: object, group: type) -> object:
    hints = typing.get_type_hints(group)
    if typing.get_origin(hints[name]) is tuple or tuple in map(typing.get_origin, typing.get_args(hints[name])):
        return _strings(name, value)
    allowed = _allowed_types(hints[name])
    if isinstance(value, bool) and bool not in allowed:
        raise ConfigurationError(_wrong_type(name, value, allowed))
    if isinstance(value, allowed):
        return _in_range(name, value)
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return _in_range(name, float(value))
    raise ConfigurationError(_wrong_type(name, value, allowed))


def _strings(name: str, value: object) -> tuple[str, ...]:
    """A list-of-strings option as a tuple; a single str is one entry."""
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) and item for item in items):
        raise ConfigurationError(f"option {name!r} must be a list of non-empty str, not {value!r}")
    return tuple(items)


def _allowed_types(hint: Any) -> tuple[type, ...]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return tuple(t for t in typing.get_args(hint) if t is not type(None))
    return (hint,)


#: Options that take one of a few strings, and those strings.
_CHOICES = {"artifact_hash": ("blake3", "sha256")}

#: Numeric options for which 0 is meaningful (every other one must be greater than 0).
_ZERO_ALLOWED = frozenset({"gc_grace", "alias_refresh"})


def _in_range(name: str, value: object) -> object:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if name in _ZERO_ALLOWED and not 0 <= value < float("inf"):
            raise ConfigurationError(f"option {name!r} must be a finite number, 0 or greater, not {value!r}")
        if name not in _ZERO_ALLOWED and not value > 0:
            raise ConfigurationError(f"option {name!r} must be greater than 0, not {value!r}")
    if isinstance(value, str) and not value:
        raise ConfigurationError(f"option {name!r} must not be empty")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ConfigurationError(f"option {name!r} must be one of {', '.join(map(repr, _CHOICES[name]))}, not {value!r}")
    return value


def _wrong_type(name: str, value: object, allowed: tuple[type, ...]) -> str:
    expected = " or ".join(t.__name__ for t in allowed)
    return f"option {name!r} must be {expected}, not {type(value).__qualname__} ({value!r})"
