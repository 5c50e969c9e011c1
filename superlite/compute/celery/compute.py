"""The caller's side of Celery compute: send a :class:`Task` to a queue, wait for its answer.

The hot path is one broker publish and one result wait, as for a bare Celery task: the caller
sends the pinned reference it already holds (no metadata query), arguments are encoded once,
and Celery's ``repr`` of the arguments for its logs is replaced by the reference.

Its options (``timeout``, ``parallelism``) are in :class:`~superlite.config.CeleryOptions`.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from celery import states
from celery.backends.redis import RedisBackend
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from kombu.exceptions import DecodeError, EncodeError

from superlite.common.messages import cause
from superlite.common.uris import mask_uri
from superlite.compute.base import Compute, ResultHandle, Task
from superlite.compute.celery.app import (
    CONNECT_TIMEOUT,
    TASK_NAME,
    build_app,
    check_broker,
    on_redis,
    queue_name,
    result_backend,
)
from superlite.compute.celery.envelope import TaskFailed, reraise, unwrap
from superlite.compute.celery.priorities import message_priority, redis_keys
from superlite.compute.celery.protocol import wire_options
from superlite.compute.celery.waiting import redis_waiter
from superlite.config import Settings
from superlite.errors import ComputeError, SerializationError
from superlite.serialization.wire import PreEncoded

if TYPE_CHECKING:
    from superlite.compute.executor import Executor

#: Redis and rpc:// results arrive by pub/sub or reply queue, without polling. A polling result
#: backend (set with ``result_backend=``) is asked every 50 ms, not Celery's default 500 ms,
#: which would add a quarter of a second to every prediction.
RESULT_POLL_INTERVAL = 0.05

#: Seconds a caller waits on Redis for its answer's message before reading the stored result
#: once, and at most between two such reads (see :meth:`CeleryCompute.await_message`).
LOOK_FIRST, LOOK_MAX = 0.05, 1.0

#: Seconds to wait for workers' replies when explaining a timeout.
INSPECT_TIMEOUT = 1.0

#: Message header holding the time (Unix seconds) a caller sent the task: the age of a waiting task.
SENT_AT_HEADER = "superlite_sent_at"

#: Results already read are deleted from Redis in batches of this many (one round trip each),
#: so they do not wait there for ``result_expires``; unread ones still expire.
FORGET_BATCH = 100


class CeleryResult(ResultHandle):
    """The pending answer of one task sent to Celery workers."""

    def __init__(self, compute: CeleryCompute, task: Task, async_result: AsyncResult) -> None:
        self.task = task
        self._compute = compute
        self._async = async_result

    @property
    def task_id(self) -> str:
        """The Celery task id."""
        return str(self._async.id)

    def result(self, timeout: float | None = None) -> object:
        """Wait for the answer (``timeout`` seconds, default the compute's) and return it.

        Raises :class:`RemoteError` for an exception in the model, the original superlite error
        (e.g. ``NotFoundError``) for a failed resolution, and :class:`ComputeError` when no
        answer comes in time or the broker cannot be reached.
        """
        return self._compute.collect(self._async, timeout, self.task.options.queue)

    def done(self) -> bool:
        """Whether the answer has arrived."""
        return bool(self._async.ready())

    async def aresult(self, timeout: float | None = None) -> object:
        """Await the answer: on a Redis result backend through pub/sub on the event loop (no thread,
        no polling; see :mod:`superlite.compute.celery.waiting`), else one at a time in the
        compute's single result thread (Celery's ``rpc://`` consumer is not thread-safe).
        """
        wait = self._compute.default_timeout if timeout is None else timeout
        waiter = self._compute.result_waiter
        if waiter is None:
            return await asyncio.get_running_loop().run_in_executor(self._compute.result_thread(), self.result, wait)
        backend = self._compute.app.backend
        try:
            raw = await waiter.wait(backend.get_key_for_task(self.task_id), wait)
        except Exception:  # noqa: BLE001 - the pub/sub connection failed: wait the ordinary way
            return await asyncio.to_thread(self.result, wait)
        if raw is None:
            self._compute.revoke(self._async)
            raise await asyncio.to_thread(self._compute.timeout_error, self.task_id, wait, self.task.options.queue)
        meta = backend.decode_result(raw)
        failed = backend.exception_to_python(meta["result"]) if meta.get("status") == "FAILURE" else None
        if isinstance(failed, TaskFailed):
            self._compute.forget(self.task_id)
            error = reraise(failed)
            raise error from error.__cause__
        if meta.get("status") != "SUCCESS":  # anything else: Celery's own wait explains it
            return await asyncio.to_thread(self.result, wait)
        self._compute.forget(self.task_id)
        return unwrap(meta["result"])


class CeleryCompute(Compute):
    """Runs tasks on ``superlite worker`` processes behind ``settings.broker``."""

    name = "celery"

    def __init__(self, settings: Settings, *, check_broker: bool = True) -> None:
        self.settings = settings
        self.app = build_app(settings)
        self.queue = queue_name(settings)
        self.default_timeout = settings.celery.timeout
        self.parallelism = settings.celery.parallelism
        self.broker = mask_uri(settings.broker)
        self.results = mask_uri(result_backend(settings))
        self._read_ids: list[str] = []
        self.result_waiter = redis_waiter(self.app.backend, result_backend(settings))
        self._result_thread: ThreadPoolExecutor | None = None
        self._forget_lock = threading.Lock()
        self._on_redis = on_redis(settings)
        self._on_redis_results = isinstance(self.app.backend, RedisBackend)
        if check_broker:
            self.check_broker()

    def check_broker(self, timeout: float = CONNECT_TIMEOUT) -> None:
        """Connect to the broker once; raise :class:`ComputeError` naming it when unreachable."""
        check_broker(self.app, timeout)

    def submit(self, task: Task) -> ResultHandle:
        """Publish ``task`` to the queue and return at once."""
        return CeleryResult(self, task, self._send(task, None))

    def submit_many(self, tasks: Sequence[Task]) -> list[ResultHandle]:
        """Publish several tasks over one producer connection."""
        try:
            with self.app.producer_or_acquire() as producer:
                return [CeleryResult(self, task, self._send(task, producer)) for task in tasks]
        except (ComputeError, SerializationError):
            raise
        except Exception as exc:
            raise self._unreachable(exc, *(task.options.queue for task in tasks)) from exc

    def _send(self, task: Task, producer: Any) -> AsyncResult:
        args, kwargs = task.encoded
        options = task.options
        reference = task.reference
        try:
            return self.app.send_task(
                TASK_NAME,
                args=(reference, task.method, PreEncoded(args), PreEncoded(kwargs), wire_options(task)),
                queue=self.queue_of(options.queue),
                priority=message_priority(self._on_redis, options.priority),
                producer=producer,
                argsrepr=f"({reference!r}, {task.method!r}, ...)",
                headers={SENT_AT_HEADER: time.time()},
                kwargsrepr="{}",
            )
        except EncodeError as exc:
            raise SerializationError(str(exc)) from exc
        except Exception as exc:
            raise self._unreachable(exc, options.queue) from exc

    def queue_of(self, queue: str | None) -> str:
        """The queue a task sent with ``queue=`` goes to: that one, else this compute's."""
        return queue or self.queue

    def _unreachable(self, exc: BaseException, *queues: str | None) -> ComputeError:
        names = sorted({self.queue_of(queue) for queue in queues or (None,)})
        where = f"queue {names[0]!r}" if len(names) == 1 else f"queues {', '.join(map(repr, names))}"
        return ComputeError(
            f"cannot send to {where}: broker {self.broker} (results: {self.results}) "
            f"unreachable: {cause(exc)} Check that the broker is running; once it is "
            f"back, calls go through again without a restart."
        )

    def collect(self, async_result: AsyncResult, timeout: float | None, queue: str | None = None) -> Any:
        """Wait for ``async_result``, sent to ``queue`` (default: this compute's), and unwrap its
        envelope (see :meth:`CeleryResult.result`)."""
        wait = self.default_timeout if timeout is None else timeout
        try:
            if self._on_redis_results:
                self.await_message(async_result, wait)
            envelope = async_result.get(timeout=wait, interval=RESULT_POLL_INTERVAL)
        except TaskFailed as exc:
            self.forget(str(async_result.id))
            error = reraise(exc)
            raise error from error.__cause__
        except CeleryTimeoutError:
            self.revoke(async_result)
            self.release(async_result)
            raise self.timeout_error(str(async_result.id), wait, queue) from None
        except DecodeError as exc:
            raise SerializationError(f"cannot decode the result of task {async_result.id}: {exc}") from exc
        except (ComputeError, SerializationError):
            raise
        except Exception as exc:
            self.release(async_result)
            raise ComputeError(
                f"task {async_result.id} on queue {self.queue_of(queue)!r} failed before the model answered "
                f"(broker {self.broker}, results {self.results}): {type(exc).__name__}: {exc}"
            ) from exc
        self.forget(str(async_result.id))
        return unwrap(envelope)

    def await_message(self, async_result: AsyncResult, wait: float) -> None:
        """Return once ``async_result`` holds its answer, taken from Redis pub/sub; raise Celery's
        ``TimeoutError`` after ``wait`` seconds.

        Celery's ``get()`` first reads the stored result, a round trip on every call, in case the
        answer came before its subscription. Here the subscription was made when the task was sent,
        before it was published, so the message answers: the answer arrives through Celery's own
        result consumer (reconnects included), without that read. The stored result is read only
        when no message came within :data:`LOOK_FIRST` seconds (then at doubling intervals, at
        most :data:`LOOK_MAX` apart), as after a message Celery's buffer of early answers had to drop.
        """
        answered: list[AsyncResult] = []
        async_result.then(answered.append)  # at once if its answer came while another call waited
        backend = async_result.backend
        consumer = backend.result_consumer
        now = time.monotonic()
        deadline, look_at, interval = now + wait, now + min(LOOK_FIRST, wait), LOOK_FIRST
        while not answered:
            now = time.monotonic()
            if now >= look_at:
                meta = backend.get_task_meta(async_result.id)
                if meta["status"] in states.READY_STATES:
                    consumer.on_state_change(meta, None)
                    if answered:
                        return
                look_at, interval = now + interval, min(interval * 2, LOOK_MAX)
            if now >= deadline:
                raise CeleryTimeoutError(f"no answer within {wait:g} s")
            consumer.drain_events(timeout=max(0.0, min(deadline, look_at) - now))

    def revoke(self, async_result: AsyncResult) -> None:
        """Tell the workers to drop a task whose caller stopped waiting (best effort: the broker may be down)."""
        with suppress(Exception):
            async_result.revoke()

    def release(self, async_result: AsyncResult) -> None:
        """Stop listening for a result no longer awaited, now rather than when it is garbage.

        Celery unsubscribes in ``AsyncResult.__del__``, where a lost broker connection prints
        a traceback to stderr (or, at interpreter exit, fails to import); done here, errors are
        ignored and the object is detached so that its ``__del__`` does nothing.
        """
        with suppress(Exception):
            async_result.backend.remove_pending_result(async_result)
        async_result.backend = None

    def result_thread(self) -> ThreadPoolExecutor:
        """The one thread awaited results wait in when the result backend has no pub/sub channel."""
        with self._forget_lock:
            if self._result_thread is None:
                self._result_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="superlite-results")
            return self._result_thread

    def forget(self, task_id: str) -> None:
        """Delete the stored result of ``task_id`` (read already), batched."""
        if not self._on_redis_results:
            return
        with self._forget_lock:
            self._read_ids.append(task_id)
            if len(self._read_ids) < FORGET_BATCH:
                return
            task_ids, self._read_ids = self._read_ids, []
        self._delete(task_ids)

    def _delete(self, task_ids: list[str]) -> None:
        if task_ids:
            backend = self.app.backend
            with suppress(Exception):
                backend.client.delete(*(backend.get_key_for_task(task_id) for task_id in task_ids))

    def timeout_error(self, task_id: str, waited: float, queue: str | None = None) -> ComputeError:
        """The error for a task sent to ``queue`` (default: this compute's) without an answer after
        ``waited`` seconds, saying why if it can."""
        queue = self.queue_of(queue)
        consumers = self.consumers(queue)
        waiting = self.queue_length(queue)
        backlog = f"; {waiting} task(s) still waiting in it" if waiting else ""
        if not consumers:
            return ComputeError(
                f"no worker consumed queue {queue!r} on broker {self.broker} within {waited:g} s{backlog}. "
                f"Start one: {self.worker_command(queue)}"
            )
        return ComputeError(
            f"no answer within {waited:g} s for task {task_id} on queue {queue!r} (broker {self.broker}); "
            f"workers consuming it: {', '.join(consumers)}{backlog}. The model is slow, the workers are busy, "
            f"or a worker failed (see its log); pass a larger timeout= if it is only slow."
        )

    def worker_command(self, queue: str | None = None) -> str:
        """The ``superlite worker`` command line that serves ``queue`` (default: this compute's; passwords masked)."""
        words = ["superlite", "worker", "--uri", mask_uri(self.settings.uri), "--broker", self.broker, "--queues", self.queue_of(queue)]
        return shlex.join(words)

    def consumers(self, queue: str | None = None) -> list[str]:
        """Names of the workers that consume ``queue`` (default: this compute's) now (empty when none answer)."""
        queue = self.queue_of(queue)
        try:
            replies = self.app.control.inspect(timeout=INSPECT_TIMEOUT).active_queues() or {}
        except Exception:
            return []
        return sorted(name for name, queues in replies.items() if any(q.get("name") == queue for q in queues or ()))

    def queue_length(self, queue: str | None = None) -> int | None:
        """How many tasks wait in ``queue`` (default: this compute's), all priorities (None when the broker cannot say)."""
        queue = self.queue_of(queue)
        try:
            with self.app.connection_for_read() as connection:
                channel = connection.default_channel
                if self._on_redis:  # an empty queue is no key at all, which a passive declare refuses
                    return sum(int(channel.client.llen(key)) for key in redis_keys(channel, queue))
                return int(channel.queue_declare(queue=queue, passive=True).message_count)
        except Exception:
            return None

    def oldest_age(self) -> float | None:
        """Seconds the oldest waiting task has waited (None when the queue is empty or the broker cannot say).

        Only a Redis broker lets a message be read without taking it; on RabbitMQ this is None.
        """
        if not self._on_redis:
            return None
        try:
            with self.app.connection_for_read() as connection:
                channel = connection.default_channel
                oldest = [channel.client.lindex(key, -1) for key in redis_keys(channel, self.queue)]
            sent = [float(json.loads(raw)["headers"][SENT_AT_HEADER]) for raw in oldest if raw]
        except Exception:
            return None
        return max(0.0, time.time() - min(sent)) if sent else None

    def purge(self) -> int:
        """Delete every task waiting in the queue (not those a worker is running); return how many."""
        try:
            with self.app.connection_for_write() as connection:
                return int(connection.default_channel.queue_purge(self.queue) or 0)
        except Exception as exc:
            raise ComputeError(f"cannot purge queue {self.queue!r} on broker {self.broker}: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        """Delete the results read since the last batch; release the result listener and connections.

        Broker connections stay open: kombu pools them per broker URL for the whole process,
        shared with every other Datalayer on the same broker.
        """
        with self._forget_lock:
            task_ids, self._read_ids = self._read_ids, []
            waiting, self._result_thread = self._result_thread, None
        if waiting is not None:
            waiting.shutdown(wait=False, cancel_futures=True)
        self._delete(task_ids)
        backend = self.app.backend
        consumer = getattr(backend, "result_consumer", None)
        client_pool = getattr(getattr(backend, "client", None), "connection_pool", None)
        for release in (getattr(consumer, "stop", None), getattr(client_pool, "disconnect", None)):
            if release is not None:
                with suppress(Exception):
                    release()
        self.app.close()


def open_celery_compute(settings: Settings, executor: Executor) -> CeleryCompute:
    """The ``superlite.compute`` backend for ``redis://``, ``amqp://`` and friends (see :mod:`superlite.compute.pipeline`)."""
    return CeleryCompute(settings)
