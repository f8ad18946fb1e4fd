"""A real ``her2kit serve`` in a subprocess on a free 127.0.0.1 port (tests and benchmark)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def her2kit(*args: str, stdin: str | None = None, timeout_s: float = 120):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.run([sys.executable, "-m", "her2kit", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=timeout_s)


class Server:
    """``her2kit serve`` with its data folder; ``kill()`` is SIGKILL, ``start()`` again."""

    def __init__(self, data_dir: Path, *, database_url: str | None = None,
                 extra: tuple[str, ...] = ()) -> None:
        self.data_dir, self.database_url, self.extra = data_dir, database_url, extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log = data_dir.parent / f"serve-{self.port}.log"

    def args(self) -> list[str]:
        a = ["--data-dir", str(self.data_dir)]
        return a + (["--database-url", self.database_url] if self.database_url else [])

    def start(self, timeout_s: float = 60) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log, "ab")  # noqa: SIM115 (the child holds it)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "her2kit", "serve", "--port", str(self.port),
             *self.args(), *self.extra], env=env, stdout=log, stderr=log,
            start_new_session=True)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"her2kit serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"her2kit serve did not answer: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the server and everything it started (its job workers)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
