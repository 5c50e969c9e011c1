"""In-process compute: tasks run on a thread pool in the caller's process, through the executor.

A task submitted from inside a running task (a composite model calling its children) runs
inline on the calling thread: queueing it behind its parent on the same bounded pool could wait
for ever once every pool thread is a parent waiting for a child.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor

from superlite.compute.base import Compute, ResultHandle, Task
from superlite.compute.executor import Executor, executing

#: Threads of the in-process pool.
DEFAULT_THREADS = 4


class LocalResult(ResultHandle):
    """A result computed on the in-process pool, or inline for a nested call."""

    def __init__(self, task: Task, future: Future[object]) -> None:
        self.task = task
        self._future = future

    def result(self, timeout: float | None = None) -> object:
        """Wait for the result; the model's own exception propagates unchanged."""
        return self._future.result(timeout)

    def done(self) -> bool:
        """Whether the task has finished."""
        return self._future.done()

    async def aresult(self, timeout: float | None = None) -> object:
        """Await the result, woken by the pool thread when it is set (no polling)."""
        return await asyncio.wait_for(asyncio.wrap_future(self._future), timeout)


class LocalCompute(Compute):
    """Runs tasks on a thread pool with ``executor`` (nested tasks inline; see the module docstring)."""

    name = "local"

    def __init__(self, executor: Executor, max_workers: int = DEFAULT_THREADS) -> None:
        self._executor = executor
        self.parallelism = max_workers
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="superlite-compute")

    def submit(self, task: Task) -> ResultHandle:
        """Queue ``task`` on the pool, or run it now when called from inside a running task."""
        if executing():
            return LocalResult(task, _run_inline(self._executor, task))
        return LocalResult(task, self._pool.submit(self._executor.execute, task))

    def close(self) -> None:
        """Wait for running tasks and stop the pool."""
        self._pool.shutdown(wait=True)


def _run_inline(executor: Executor, task: Task) -> Future[object]:
    future: Future[object] = Future()
    try:
        future.set_result(executor.execute(task))
    except Exception as exc:
        future.set_exception(exc)
    return future
