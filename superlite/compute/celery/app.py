"""Build the Celery app that callers and workers share, from :class:`~superlite.config.Settings`.

One app per :class:`~superlite.datalayer.Datalayer` (or per worker process), never a global
one. Callers and workers build it from the same settings, so they agree on the task name,
the codec, the queue and the result backend.

Its options are :class:`~superlite.config.CeleryOptions` (``superlite.connect(..., queue="gpu")``).
With RabbitMQ, results come back on ``rpc://``: a reply queue of the caller's own connection, so
nothing is left behind on the broker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery import Celery

from superlite.common.messages import cause
from superlite.common.uris import mask_uri, uri_scheme
from superlite.compute.celery import priorities
from superlite.config import Settings
from superlite.errors import ComputeError
from superlite.serialization.wire import (
    CONTENT_TYPE,
    SERIALIZER,
    register_kombu_serializer,
)

#: The one task superlite workers run, by explicit name so callers and workers agree across versions.
TASK_NAME = "superlite.execute"

#: Seconds to wait when opening a connection to the broker or the result backend.
CONNECT_TIMEOUT = 2.0

#: How often a caller's result backend retries a lost Redis connection (about 1.5 s in all).
CALLER_RESULT_RETRIES = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}

#: ...and a worker's, which must store the results of the tasks it ran (Celery's default: ~20 s).
WORKER_RESULT_RETRIES = {"max_retries": 20, "interval_start": 0, "interval_step": 1, "interval_max": 1}

_REDIS_SCHEMES = ("redis", "rediss")


def queue_name(settings: Settings) -> str:
    """The queue tasks of ``settings`` go to."""
    return settings.celery.queue


def result_backend(settings: Settings) -> str:
    """The result backend URL: explicit option, else Redis itself, else ``rpc://`` (RabbitMQ).

    With a failover list of Redis brokers (``redis://h1/0;redis://h2/0``) results go to the
    first one: Celery's Redis result backend takes a single URL.
    """
    if settings.celery.result_backend:
        return settings.celery.result_backend
    if uri_scheme(settings.broker or "") in _REDIS_SCHEMES:
        return str(settings.broker).split(";")[0]
    return "rpc://"


def visibility_timeout(settings: Settings) -> float:
    """Redis visibility timeout in seconds (see the module docstring)."""
    return settings.celery.visibility_timeout


def _transport_options(settings: Settings) -> Mapping[str, Any]:
    if uri_scheme(settings.broker or "") not in _REDIS_SCHEMES:
        return {}
    timeout = visibility_timeout(settings)
    return {
        **priorities.redis_transport_options(),
        "visibility_timeout": timeout,
        # How often a worker looks for tasks of vanished workers to deliver again: often enough
        # that recovery takes about visibility_timeout, not kombu's default of 100 s on top.
        "unacked_restore_interval": max(1, min(10, int(timeout // 4))),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": CONNECT_TIMEOUT,
    }


def build_app(settings: Settings) -> Celery:
    """A Celery app for ``settings.broker``, configured for superlite; see the comments inside."""
    if not settings.broker:
        raise ValueError("build_app needs settings with a broker URL")
    register_kombu_serializer()
    app = Celery("superlite", broker=settings.broker, backend=result_backend(settings), set_as_current=False)
    app.conf.update(
        # Nothing is pickled: the superlite codec (JSON + bytes/numpy/tuples/plugin types) is the
        # only content type sent, and the only one workers and callers accept.
        task_serializer=SERIALIZER,
        result_serializer=SERIALIZER,
        accept_content=[CONTENT_TYPE],
        result_accept_content=[CONTENT_TYPE],
        task_default_queue=queue_name(settings),
        # Acknowledge a task only after it ran: a worker that dies mid-prediction leaves the
        # message on the broker, to be delivered again. Predictions must be idempotent.
        task_acks_late=True,
        # ...and when a pool process is killed (SIGKILL, OOM killer), put the task back on the
        # queue instead of recording a WorkerLostError failure.
        task_reject_on_worker_lost=True,
        # Celery's default (4) reserves several tasks per process; with late acks, reserved
        # tasks wait behind a slow prediction while other workers idle. Take one at a time.
        worker_prefetch_multiplier=1,
        # Celery keeps results a day by default; every prediction would pile up in Redis.
        # Callers read results within seconds, so keep unread ones only briefly.
        result_expires=settings.celery.result_expires,
        # No STARTED state and no task events: each would cost an extra broker/backend write
        # per prediction, and nothing in superlite reads them.
        task_track_started=False,
        task_send_sent_event=False,
        worker_send_task_events=False,
        # An unreachable broker must fail in about a second, not hang: short connect timeouts
        # and few publish retries (Celery's defaults add up to tens of seconds).
        broker_connection_timeout=CONNECT_TIMEOUT,
        broker_transport_options=dict(_transport_options(settings)),
        # The Redis result backend retries a lost connection 20 times, a second apart, inside a
        # caller's wait: a call would outlive its timeout by that much. Callers give up sooner
        # (the worker, which must store results, sets WORKER_RESULT_RETRIES back).
        result_backend_transport_options={"retry_policy": CALLER_RESULT_RETRIES},
        redis_socket_connect_timeout=CONNECT_TIMEOUT,
        redis_retry_on_timeout=False,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.4},
        # A running worker keeps reconnecting to a broker that goes away (a broker restart must
        # not kill it). At start-up `superlite worker` checks the broker once and exits with a
        # clear error instead of retrying silently; its supervisor (compose, systemd) restarts it.
        broker_connection_retry=True,
        broker_connection_retry_on_startup=False,
        # Results of the rpc:// backend live on the caller's reply queue; they need not survive
        # a broker restart (the caller that waits for them would not either).
        result_persistent=False,
        # Priorities through the broker's own priority queues (superlite.compute.celery.priorities).
        **priorities.app_settings(on_redis(settings)),
    )
    return app


def on_redis(settings: Settings) -> bool:
    """Whether ``settings``' broker is Redis (else RabbitMQ or another AMQP broker)."""
    return uri_scheme(settings.broker or "") in _REDIS_SCHEMES


def check_broker(app: Celery, timeout: float = CONNECT_TIMEOUT) -> None:
    """Connect to ``app``'s broker once; raise :class:`ComputeError` naming it (masked) when unreachable."""
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=timeout)
    except Exception as exc:
        raise ComputeError(
            f"cannot reach the broker {mask_uri(app.conf.broker_url)}: {cause(exc)} Check that it is running and "
            f"accepts connections at that host and port, and that the URL's user, password and virtual host are right."
        ) from exc
