"""Retrying an operation that lost a race: a bounded number of attempts, with jittered back-off."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: The longest sleep between two attempts (seconds).
MAX_SLEEP = 0.1


def retry(
    operation: Callable[[], T],
    *,
    attempts: int,
    retry_if: Callable[[BaseException], bool],
    backoff: float = 0.0,
    budget: float | None = None,
) -> T:
    """Run ``operation``; when it raises an exception ``retry_if`` accepts, run it again.

    At most ``attempts`` runs, and none started after ``budget`` seconds; the last failure
    propagates. Before run ``n`` (from 1) it sleeps a random time up to ``backoff * n`` seconds
    (at most :data:`MAX_SLEEP`), so racing processes spread out.
    """
    give_up = None if budget is None else time.monotonic() + budget
    for attempt in range(attempts - 1):
        try:
            return operation()
        except Exception as exc:
            if not retry_if(exc) or (give_up is not None and time.monotonic() >= give_up):
                raise
        if backoff:
            time.sleep(min(MAX_SLEEP, random.uniform(0, backoff * (attempt + 1))))
    return operation()
