"""Awaiting Celery results on the event loop, without a thread or a poll per waiting call.

A Redis result backend stores each result under its key and publishes it on a channel of the
same name. :class:`RedisResultWaiter` keeps, per event loop, one asyncio Redis connection for
pub/sub and one for commands: an awaited task subscribes to its key's channel, waits for the
subscription to be confirmed, then reads the key (the answer may be there already) and, if it is
not, awaits the message. Subscribing before reading means no answer can slip between the two.

Other result backends (``rpc://`` on RabbitMQ, or any set with ``result_backend=``) have no such
channel: their handles wait in a worker thread instead (see :meth:`CeleryResult.aresult`).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

#: Seconds the reader waits for a message before looking again whether it should stop.
READ_TIMEOUT = 1.0


class _LoopConnections:
    """The pub/sub and command connections of one event loop, and the calls waiting on them."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import from_url

        self.client = from_url(url)
        self.pubsub = self.client.pubsub()
        self.answers: dict[bytes, asyncio.Future[bytes]] = {}
        self.confirmed: dict[bytes, asyncio.Future[None]] = {}
        self.reader: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()

    async def wait(self, key: bytes, timeout: float) -> bytes | None:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bytes] = loop.create_future()
        confirmed: asyncio.Future[None] = loop.create_future()
        self.answers[key], self.confirmed[key] = answer, confirmed
        try:
            async with asyncio.timeout(timeout):
                await self._connect()
                await self.pubsub.subscribe(key)
                if self.reader is None or self.reader.done():
                    self.reader = loop.create_task(self._read())
                await confirmed
                stored = await self.client.get(key)
                return stored if stored is not None else await answer
        except TimeoutError:
            return None
        finally:
            del self.answers[key], self.confirmed[key]
            with contextlib.suppress(Exception):
                await self.pubsub.unsubscribe(key)

    async def _connect(self) -> None:
        # Connect once: concurrent first subscribes would each open a connection nobody reads.
        if self.pubsub.connection is None:
            async with self._connecting:
                if self.pubsub.connection is None:
                    await self.pubsub.connect()

    async def _read(self) -> None:
        try:
            while self.answers:
                message = await self.pubsub.get_message(timeout=READ_TIMEOUT)
                if message is not None:
                    self._dispatch(message)
        except Exception as exc:  # noqa: BLE001 - handed to every waiting call, which falls back
            for future in (*self.confirmed.values(), *self.answers.values()):
                if not future.done():
                    future.set_exception(exc)

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel, kind = message.get("channel"), message.get("type")
        if kind == "subscribe" and channel in self.confirmed and not self.confirmed[channel].done():
            self.confirmed[channel].set_result(None)
        elif kind == "message" and channel in self.answers and not self.answers[channel].done():
            self.answers[channel].set_result(message["data"])


class RedisResultWaiter:
    """Awaits result keys of a Redis result backend at ``url`` (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopConnections] = (
            weakref.WeakKeyDictionary()
        )

    async def wait(self, key: bytes, timeout: float) -> bytes | None:
        """The raw stored result under ``key``, or None when none came within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        connections = self._loops.get(loop)
        if connections is None:
            connections = self._loops[loop] = _LoopConnections(self.url)
        return await connections.wait(key, timeout)



def redis_waiter(backend: Any, url: str) -> RedisResultWaiter | None:
    """A waiter for ``backend`` when it is Celery's plain Redis backend at a single ``url``; else None."""
    from celery.backends.redis import RedisBackend, SentinelBackend

    if not isinstance(backend, RedisBackend) or isinstance(backend, SentinelBackend) or ";" in url:
        return None
    return RedisResultWaiter(url)
