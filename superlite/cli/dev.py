"""``superlite dev``: the development stack without Docker, as child processes of this command.

One ``superlite serve`` and, with a broker, ``--workers`` ``superlite worker`` processes on the
machine's own database and broker (without ``--broker``: the API alone, computing in-process,
on SQLite by default). Ctrl-C (or SIGTERM) stops the API first, then the workers, and waits for
each; if any child exits on its own, the others are stopped too and the exit code says so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click

from superlite.cli.app import CliState, main, reports_errors

#: Seconds a child gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT = 15.0


def _start(args: list[str], uri: str | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "superlite", *(["--uri", uri] if uri else []), *args]
    return subprocess.Popen(command, start_new_session=True)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


@main.command()
@click.option("--broker", envvar="SUPERLITE_BROKER", help="Celery broker URL (default: no workers, in-process compute).")
@click.option("--queue", help="Celery queue the API sends to and the workers consume (default: superlite).")
@click.option("--workers", type=click.IntRange(min=0), default=1, show_default=True, help="Worker processes to start (with --broker).")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True, help="Pool processes of each worker.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the API listens on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port of the API.")
@click.pass_obj
@reports_errors
def dev(state: CliState, broker: str | None, queue: str | None, workers: int, concurrency: int, host: str, port: int) -> None:
    """Start the API and workers as child processes until Ctrl-C (the stack of docker-compose.yml, without Docker)."""
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: list[subprocess.Popen[bytes]] = []
    try:
        broker_args = ["--broker", broker] if broker else []
        queue_args = ["--queue", queue] if broker and queue else []
        children.append(_start(["serve", *broker_args, *queue_args, "--host", host, "--port", str(port)], state.uri))
        if broker:
            worker_args = ["--queues", queue] if queue else []
            for _ in range(workers):
                children.append(_start(["worker", *broker_args, *worker_args, "--concurrency", str(concurrency)], state.uri))
        click.echo(f"superlite dev: API on http://{host}:{port}/ with {len(children) - 1} worker(s); Ctrl-C stops", err=True)
        while not stop_requested and all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        _stop(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [child for child in children if child.returncode not in (0, -signal.SIGTERM)]
    if not stop_requested or failed:
        # name each child by its command and pid only: its arguments may hold a password
        exits = ", ".join(f"{'serve' if i == 0 else 'worker'} (pid {c.pid}): {c.returncode}" for i, c in enumerate(children))
        click.echo(f"superlite dev: a process exited on its own; exit codes: {exits}", err=True)
        sys.exit(1)
