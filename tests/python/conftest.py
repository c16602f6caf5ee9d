"""Shared fixtures for the interop suites: start a real nl6d and find free ports."""

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET_DIR = Path(os.environ.get("NL6_TARGET_DIR", ROOT / "target" / "debug"))


def free_port(host="127.0.0.1"):
    """A TCP port that is free on host right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Daemon:
    """A running nl6d process whose output is collected line by line."""

    def __init__(self, args, ready_timeout=60.0):
        binary = TARGET_DIR / "nl6d"
        if not binary.exists():
            raise RuntimeError(f"{binary} not built: run `cargo build --bins` first")
        self.lines = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [str(binary), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info")},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for_line("ready", ready_timeout)

    def _read(self):
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for_line(self, needle, timeout):
        """Waits until an output line contains needle; fails with the output so far."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise RuntimeError(
                        f"nl6d exited with {self.proc.returncode} before {needle!r}:\n"
                        + "\n".join(self.lines)
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {needle!r} from nl6d within {timeout}s:\n" + "\n".join(self.lines))
                self._cond.wait(min(left, 0.5))

    def stop(self):
        """SIGTERM, then the exit code (nl6d must exit 0 on SIGTERM)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        return self.proc.returncode


@pytest.fixture
def nl6d():
    """Factory: start nl6d with extra flags; every daemon is stopped at teardown."""
    started = []

    def start(*args):
        daemon = Daemon(list(args))
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        code = daemon.stop()
        assert code == 0, "nl6d did not exit 0 on SIGTERM:\n" + "\n".join(daemon.lines)
