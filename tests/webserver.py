"""Helpers for the web tests that need a real server: a free port and a ``railtrack serve`` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``railtrack serve`` in a child process on a free loopback port; stopped by :meth:`stop`."""

    def __init__(self, db: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "railtrack", "serve", "--db", str(db), "--port", str(self.port),
             "--log-level", "warning", *extra],
            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise RuntimeError(f"railtrack serve exited with {self.proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(self.url + "/api/catalog", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                self.stop()
                raise RuntimeError("railtrack serve did not answer within 60 s")
            time.sleep(0.2)

    def stop(self) -> tuple[str, str]:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.communicate()
