"""Waiting for PostgreSQL ``NOTIFY`` on a channel; other databases cannot notify, so they sleep.

A LISTENing connection is taken out of the engine's pool (it must not be handed to anyone
else while it listens) at the first wait, and closed by :meth:`Notifications.close`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy.engine import Engine


class Notifications:
    """Notifications on ``channel`` of the database behind ``engine`` (see the module docstring)."""

    def __init__(self, engine: Engine, channel: str) -> None:
        self.engine = engine
        self.channel = channel
        self._listening: Any = None
        self._lock = threading.Lock()

    @property
    def supported(self) -> bool:
        """Whether the database sends notifications (PostgreSQL)."""
        return self.engine.dialect.name == "postgresql"

    def wait(self, seconds: float) -> None:
        """Return at the next notification on the channel, or after ``seconds``."""
        if not self.supported:
            time.sleep(seconds)
            return
        with self._lock:
            if self._listening is None:
                raw = self.engine.raw_connection()
                driver = raw.driver_connection
                raw.detach()
                driver.autocommit = True
                driver.execute(f"LISTEN {self.channel}")
                self._listening = driver
            listening = self._listening
        for _ in listening.notifies(timeout=seconds, stop_after=1):
            pass

    def close(self) -> None:
        """Close the LISTEN connection, if one was opened."""
        with self._lock:
            listening, self._listening = self._listening, None
        if listening is not None:
            listening.close()
