"""A live ``superlite serve`` (or ``superlite dev``) subprocess on a free port, for tests and benchmarks.

The server runs as a user runs it: a child process in its own process group, real HTTP on
127.0.0.1, stopped with SIGTERM (then SIGKILL) when the context ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

#: Seconds a server may take to answer ``/v2/health/ready``.
READY_TIMEOUT = 60.0


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    """A running server process: its base URL, process and log file."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until ``/v2/health/ready`` answers 200; raise with the log if the process exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send ``sig`` to the server's process group, wait, SIGKILL if needed; return the exit code."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without superlite settings, with this ``sys.path``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERLITE_") or k == "SUPERLITE_REQUIRE_SERVICES"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, sys.path))
    env.update(extra or {})
    return env


@contextmanager
def running_server(
    uri: str, *args: str, log_dir: Path, command: str = "serve", env: Mapping[str, str] | None = None
) -> Iterator[LiveServer]:
    """Start ``superlite --uri URI <command> --port P *args`` and yield it once it is ready."""
    port = free_port()
    log_path = log_dir / f"{command}-{uuid.uuid4().hex[:8]}.log"
    argv = [sys.executable, "-m", "superlite", "--uri", uri, command, "--port", str(port), *args]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=clean_env(env), start_new_session=True)
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
