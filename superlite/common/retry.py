"""Retrying an operation that lost a race: a bounded number of attempts, with jittered back-off."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def retry(
    operation: Callable[[], T],
    *,
    attempts: int,
    retry_if: Callable[[BaseException], bool],
    backoff: float = 0.0,
) -> T:
    """Run ``operation``; when it raises an exception ``retry_if`` accepts, run it again.

    At most ``attempts`` runs; the last failure propagates. Before run ``n`` (from 1) it sleeps a
    random time up to ``backoff * n`` seconds, so racing processes spread out.
    """
    for attempt in range(attempts - 1):
        try:
            return operation()
        except Exception as exc:
            if not retry_if(exc):
                raise
        if backoff:
            time.sleep(random.uniform(0, backoff * (attempt + 1)))
    return operation()
