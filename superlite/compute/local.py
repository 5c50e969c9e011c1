"""In-process compute: tasks run on a thread pool in the caller's process."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from superlite.compute.base import Compute, ResultHandle, Task


class LocalResult(ResultHandle):
    """A result computed by a :class:`LocalCompute` thread."""

    def __init__(self, future: Future[object]) -> None:
        self._future = future

    def result(self, timeout: float | None = None) -> object:
        """Wait for the result; the model's own exception propagates unchanged."""
        return self._future.result(timeout)

    def done(self) -> bool:
        """Whether the thread has finished."""
        return self._future.done()


class LocalCompute(Compute):
    """Runs tasks on a thread pool; ``run(task)`` resolves and calls the component.

    The datalayer provides ``run``: it resolves the reference to a loaded model through its
    model cache and calls the method, so local and remote execution share one code path.
    """

    name = "local"

    def __init__(self, run: Callable[[Task], object], max_workers: int = 4) -> None:
        self._run = run
        self.parallelism = max_workers
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="superlite-compute")

    def submit(self, task: Task) -> ResultHandle:
        """Queue ``task`` on the pool."""
        return LocalResult(self._pool.submit(self._run, task))

    def close(self) -> None:
        """Wait for running tasks and stop the pool."""
        self._pool.shutdown(wait=True)
