"""The Celery app's settings, the result envelope and the worker's start-up line (no services needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from superlite.compute.celery.app import TASK_NAME, build_app, result_backend
from superlite.compute.celery.envelope import failure, unwrap
from superlite.compute.celery.worker import startup_line
from superlite.config import Settings
from superlite.errors import NotFoundError, RemoteError, UnknownSchemeError
from superlite.serialization.wire import CONTENT_TYPE, SERIALIZER


def settings(broker: str, **options: object) -> Settings:
    return Settings(uri="postgresql://app:dbs3cret@db/models", broker=broker).with_options(**options)


def test_app_is_configured_for_safe_remote_predictions() -> None:
    conf = build_app(settings("redis://127.0.0.1:6379/0")).conf
    assert conf.task_serializer == conf.result_serializer == SERIALIZER
    assert list(conf.accept_content) == list(conf.result_accept_content) == [CONTENT_TYPE]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 0 < conf.result_expires <= 3600
    assert conf.task_default_queue == "superlite"
    assert conf.broker_transport_options["visibility_timeout"] == 120
    assert conf.broker_connection_timeout <= 5


def test_options_choose_queue_expiry_and_visibility() -> None:
    conf = build_app(settings("redis://h/0", queue="gpu", result_expires=60, visibility_timeout=900)).conf
    assert conf.task_default_queue == "gpu"
    assert conf.result_expires == 60
    assert conf.broker_transport_options["visibility_timeout"] == 900


@pytest.mark.parametrize(
    ("broker", "options", "expected"),
    [
        ("redis://:pw@h:6379/3", {}, "redis://:pw@h:6379/3"),
        ("rediss://h:6380/0", {}, "rediss://h:6380/0"),
        ("amqp://guest:guest@h//", {}, "rpc://"),
        ("amqp://guest:guest@h//", {"result_backend": "redis://r/1"}, "redis://r/1"),
    ],
)
def test_result_backend_follows_the_broker(broker: str, options: dict[str, object], expected: str) -> None:
    assert result_backend(settings(broker, **options)) == expected


def test_task_name_is_explicit() -> None:
    assert TASK_NAME == "superlite.execute"


def test_importing_superlite_does_not_import_celery() -> None:
    code = (
        "import sys, superlite, superlite.compute.celery, superlite.compute.pipeline\n"
        "assert 'celery' not in sys.modules and 'kombu' not in sys.modules, sorted(sys.modules)\n"
        "superlite.compute.celery.open_celery_compute\n"
        "assert 'celery' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_model_exceptions_come_back_as_remote_errors() -> None:
    with pytest.raises(RemoteError) as caught:
        unwrap(failure(raised(KeyError("missing feature"))))
    assert caught.value.exc_type == "KeyError"
    assert caught.value.exc_message == "'missing feature'"
    assert "raise exc" in caught.value.remote_traceback


def test_superlite_errors_keep_their_class_with_the_remote_traceback_as_cause() -> None:
    with pytest.raises(NotFoundError, match="no component with uuid u1") as caught:
        unwrap(failure(raised(NotFoundError("no component with uuid u1"))))
    assert isinstance(caught.value.__cause__, RemoteError)


def test_superlite_errors_with_other_signatures_keep_their_class_and_fields() -> None:
    with pytest.raises(UnknownSchemeError, match="URI scheme 'zz'") as caught:
        unwrap(failure(raised(UnknownSchemeError("zz", "database", ["sqlite"]))))
    assert (caught.value.scheme, caught.value.installed) == ("zz", ["sqlite"])


def test_results_unwrap() -> None:
    assert unwrap({"ok": [1, 2]}) == [1, 2]


def test_startup_line_masks_passwords_and_states_the_budget() -> None:
    line = startup_line(settings("redis://:brokers3cret@h:6379/0"), ["a", "b"], 4, "prefork", 512, 8)
    assert "dbs3cret" not in line and "brokers3cret" not in line
    assert "postgresql://app:***@db/models" in line
    assert "redis://:***@h:6379/0" in line
    assert "queues a, b" in line
    assert "pool prefork x 4" in line
    assert "512 MiB / 8 models per process" in line
