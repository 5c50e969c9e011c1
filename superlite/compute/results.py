"""The result cache: answers of models declared ``cache=True`` (or ``cache=<seconds>``) are reused.

:class:`ResultCache` is a compute wrapper, so a hit never reaches a worker (nor the in-process
pool). The key is the answering version's content hash and the digest of the method and its
encoded arguments (:attr:`~superlite.compute.base.Task.input_digest`): an answer is never served
for another version's content, and equal inputs share it. Only ``predict`` is cached, and only
successful answers.

Where answers live (:class:`ResultStore`): in Redis when ``result_cache`` (a ``redis://`` URL)
is set, shared by every caller of that Redis, each key with its time to live (a model's
``cache=<seconds>``, else :data:`DEFAULT_TTL`; bound the memory with Redis's own
``maxmemory``/``allkeys-lru``); otherwise in the process, least recently used first out, at most
``result_cache_items`` answers. Answers are stored in the broker codec's text form, so a hit
returns a fresh copy and a model's answer cannot be changed by a caller mutating it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from superlite.common.uris import mask_uri, uri_scheme
from superlite.compute.base import Compute, ComputeWrapper, ResultHandle, Task
from superlite.config import Settings
from superlite.errors import ConfigurationError
from superlite.serialization.wire import CODEC

#: Seconds an answer is kept when a model says ``cache=True``.
DEFAULT_TTL = 3600.0

#: Redis keys of cached answers start with this.
KEY_PREFIX = "superlite:result:"

#: ``policy(uuid) -> (content_hash, ttl)`` for a model whose answers may be cached, else None.
CachePolicy = Callable[[str], "tuple[str, float] | None"]


class ResultStore(Protocol):
    """Where cached answers are kept: text by key, each with a time to live."""

    def get(self, key: str) -> str | None:
        """The stored text, or None when absent or expired."""

    def put(self, key: str, text: str, ttl: float) -> None:
        """Store ``text`` under ``key`` for ``ttl`` seconds."""


class MemoryResultStore:
    """In-process answers: least recently used first out beyond ``max_items``."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        """The stored text, or None when absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, text: str, ttl: float) -> None:
        """Store ``text`` under ``key`` for ``ttl`` seconds, dropping the least recently used beyond the bound."""
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl, text)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_items:
                self._entries.popitem(last=False)


class RedisResultStore:
    """Answers in Redis at ``url``, shared by every caller that uses it."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)

    def get(self, key: str) -> str | None:
        """The stored text, or None when absent or expired."""
        raw = self.client.get(KEY_PREFIX + key)
        return raw.decode() if raw is not None else None

    def put(self, key: str, text: str, ttl: float) -> None:
        """Store ``text`` under ``key`` for ``ttl`` seconds."""
        self.client.set(KEY_PREFIX + key, text, px=max(1, int(ttl * 1000)))


def open_result_store(settings: Settings) -> ResultStore:
    """Redis at ``settings.cache.result_cache``, else the broker's Redis, else in the process."""
    url = settings.cache.result_cache
    if url is None and settings.broker and uri_scheme(settings.broker) in ("redis", "rediss") and ";" not in settings.broker:
        url = settings.broker
    if url is None:
        return MemoryResultStore(settings.cache.result_cache_items)
    if uri_scheme(url) not in ("redis", "rediss"):
        raise ConfigurationError(f"result_cache must be a redis:// URL, not {mask_uri(url)}")
    return RedisResultStore(url)


class CachedResult(ResultHandle):
    """An answer found in the cache: ready at once."""

    def __init__(self, task: Task, text: str) -> None:
        self.task = task
        self._text = text

    def result(self, timeout: float | None = None) -> object:
        """A fresh copy of the cached answer."""
        return CODEC.loads(self._text)

    def done(self) -> bool:
        """Always ready."""
        return True

    async def aresult(self, timeout: float | None = None) -> object:
        """A fresh copy of the cached answer (no waiting)."""
        return self.result()


class CachingResult(ResultHandle):
    """A computed answer that is stored in the cache once it arrives."""

    def __init__(self, inner: ResultHandle, store: ResultStore, key: str, ttl: float) -> None:
        self.task = inner.task
        self._inner, self._store, self._key, self._ttl = inner, store, key, ttl

    def result(self, timeout: float | None = None) -> object:
        """The answer, stored for the next caller."""
        return self._keep(self._inner.result(timeout))

    def done(self) -> bool:
        """Whether the answer has arrived."""
        return self._inner.done()

    async def aresult(self, timeout: float | None = None) -> object:
        """The answer, awaited, stored for the next caller."""
        return self._keep(await self._inner.aresult(timeout))

    def _keep(self, value: object) -> object:
        self._store.put(self._key, CODEC.dumps(value), self._ttl)
        return value


class ResultCache(ComputeWrapper):
    """Serves cached answers without computing them; see the module docstring."""

    def __init__(self, inner: Compute, store: ResultStore, policy: CachePolicy) -> None:
        super().__init__(inner)
        self.store = store
        self.policy = policy
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    def submit_many(self, tasks: Sequence[Task]) -> list[ResultHandle]:
        """Answer from the cache what it holds; send the rest on, keeping their answers."""
        lookups = [self._lookup(task) for task in tasks]
        if not any(lookups):
            return self.inner.submit_many(tasks)
        handles: list[ResultHandle | None] = []
        pending: list[tuple[int, Task, str | None, float]] = []
        for task, cached in zip(tasks, lookups):
            if isinstance(cached, CachedResult):
                handles.append(cached)
                continue
            handles.append(None)
            pending.append((len(handles) - 1, task, *(cached or (None, 0.0))))
        for (position, _, key, ttl), handle in zip(pending, self.inner.submit_many([p[1] for p in pending])):
            handles[position] = CachingResult(handle, self.store, key, ttl) if key is not None else handle
        return handles  # type: ignore[return-value]

    def acts_on(self, task: Task) -> bool:
        """Whether ``task`` is a ``predict`` of a model that declares ``cache=``."""
        return self._policy(task) is not None

    def _policy(self, task: Task) -> tuple[str, float] | None:
        """``(content hash, TTL)`` when ``task`` is a ``predict`` of a model that declares ``cache=``."""
        return self.policy(task.target.uuid) if task.method == "predict" else None

    def _lookup(self, task: Task) -> CachedResult | tuple[str, float] | None:
        """A cached answer; else the key and TTL to store the answer under; else None (not cached)."""
        policy = self._policy(task)
        if policy is None:
            return None
        content_hash, ttl = policy
        key = f"{content_hash}:{task.input_digest}"
        text = self.store.get(key)
        with self._lock:
            if text is None:
                self.misses += 1
            else:
                self.hits += 1
        return CachedResult(task, text) if text is not None else (key, ttl)
