"""Leases: a resource shared by several owners, released when the last of them lets go."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Leases:
    """Counts the users of a shared resource and calls ``release`` when the last one is done.

    Each :meth:`take` returns that user's own ``give_back`` function; calling it twice is harmless.
    """

    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release
        self._holders = 0
        self._lock = threading.Lock()

    def take(self) -> Callable[[], None]:
        """Count one more user; return the function that ends its lease."""
        with self._lock:
            self._holders += 1
        returned = False

        def give_back() -> None:
            nonlocal returned
            with self._lock:
                if returned:
                    return
                returned = True
                self._holders -= 1
                last = self._holders == 0
            if last:
                self._release()

        return give_back
