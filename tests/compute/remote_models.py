"""Model callables for the compute tests, importable by worker processes (on their PYTHONPATH).

dill stores these by reference (module + name), so a worker that imports this module runs
exactly this code.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from typing import Any


def getpid(x: Any) -> int:
    """The pid of the process that ran the prediction."""
    return os.getpid()


def frozen_objects(x: Any) -> int:
    """How many objects the process that ran the prediction keeps out of the garbage collector's sight."""
    return gc.get_freeze_count()


def pid_and_echo(x: Any) -> list[Any]:
    """``[pid, x]``: who answered, and the input it saw."""
    return [os.getpid(), x]


def slow_pid(x: float) -> int:
    """Sleep ``x`` seconds, then return the pid."""
    time.sleep(x)
    return os.getpid()


def echo(x: Any) -> Any:
    """The input itself (round trip of the wire codec through a worker)."""
    return x


def fail(x: Any) -> Any:
    """Raise a ValueError naming the input."""
    raise ValueError(f"bad input {x!r}")


#: Constructor arguments of the superlite errors whose constructor takes more than a message.
ERROR_ARGUMENTS: dict[str, tuple[Any, ...]] = {
    "UnknownSchemeError": ("zz", "database", ["sqlite", "postgresql"]),
    "NotFoundError": ("no model 'x'", ["a", "b"]),
    "StoredClassImportError": ("pkg.mod:Cls", "pkg.mod", ModuleNotFoundError("No module named 'pkg'")),
    "RemoteError": ("ValueError", "inner", "Traceback: ..."),
    "NoDatabaseError": ("sqlite:////x.db", "the file /x.db does not exist"),
    "SwapError": ("alias production not moved", {"host:1": "warm-up raised ValueError"}),
    "CompositeError": ("vote3", "m2", "ZeroDivisionError: division by zero", {"m2": "ZeroDivisionError"}),
}


def raise_superlite_error(name: str) -> Any:
    """Raise the ``superlite.errors`` class ``name``, built with sample arguments."""
    from superlite import errors

    raise getattr(errors, name)(*ERROR_ARGUMENTS.get(name, (f"sample {name}",)))


def unsupported(x: Any) -> Any:
    """Return a set, which the wire codec cannot carry."""
    return {x}


class StallOnce:
    """On the first call anywhere, write the pid to ``marker`` and stall; later calls answer at once."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __call__(self, x: Any) -> int:
        path = Path(self.marker)
        if not path.exists():
            path.write_text(str(os.getpid()))
            time.sleep(120)
        return os.getpid()


class LoadCounter:
    """A model of about ``size`` bytes that appends ``"<name> <pid>"`` to ``log`` whenever it is loaded."""

    def __init__(self, name: str, log: str, size: int = 0, load_delay: float = 0.0) -> None:
        self.name = name
        self.log = log
        self.payload = bytes(size)
        self.load_delay = load_delay

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        with open(self.log, "a") as log:
            log.write(f"{self.name} {os.getpid()}\n")
        time.sleep(self.load_delay)

    def __call__(self, x: Any) -> str:
        return self.name


class Tag:
    """A model that answers its ``name`` (which version answered) and the pid that ran it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, x: Any) -> list[Any]:
        return [self.name, os.getpid()]


class StallFirstCall:
    """The first call in any process claims ``marker`` (writing its pid) and stalls; others answer."""

    def __init__(self, marker: str, name: str) -> None:
        self.marker = marker
        self.name = name

    def __call__(self, x: Any) -> list[Any]:
        try:
            descriptor = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return [self.name, os.getpid()]
        with os.fdopen(descriptor, "w") as claimed:
            claimed.write(str(os.getpid()))
        time.sleep(300)
        return [self.name, os.getpid()]


def stamp(x: dict[str, Any]) -> list[Any]:
    """``[tag, n]``: the n-th call to arrive here (a counter file ``x["log"]``, one line per call).

    With ``x["hold"]`` (a path), first announce the call (``hold + ".running"``) and wait until
    that file exists, holding the worker so that later calls queue up behind it.
    """
    hold = x.get("hold")
    if hold:
        Path(hold + ".running").write_text("")
        deadline = time.monotonic() + 60
        while not Path(hold).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    with open(x["log"], "a") as log:
        log.write(f"{x['tag']}\n")
    return [x["tag"], len(Path(x["log"]).read_text().splitlines())]
