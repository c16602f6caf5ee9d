"""Shared fixtures for the interop suites: start a real nl6d and find free ports."""

import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The debug binaries: NL6_TARGET_DIR (set by `cargo xtask test`), else the debug directory
# under CARGO_TARGET_DIR (relative to the workspace, as cargo reads it), else target/debug.
TARGET_DIR = Path(
    os.environ.get("NL6_TARGET_DIR")
    or ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "debug"
)


def call(api, method, path, body=None):
    """(status, parsed JSON or text) of one HTTP request."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(api + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            status, text = reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


def free_port(host="127.0.0.1"):
    """A TCP port that is free on host right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Daemon:
    """A running process (nl6d by default) whose output is collected line by line."""

    def __init__(self, args, ready_timeout=60.0, binary_name="nl6d", ready="ready", command=None):
        self.name = binary_name
        if command is None:
            binary = TARGET_DIR / binary_name
            if not binary.exists():
                raise RuntimeError(f"{binary} not built: run `cargo build --bins` first")
            command = [str(binary)]
        self.lines = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [*command, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info")},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for_line(ready, ready_timeout)

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
                        f"{self.name} exited with {self.proc.returncode} before {needle!r}:\n"
                        + "\n".join(self.lines)
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {needle!r} from {self.name} within {timeout}s:\n" + "\n".join(self.lines))
                self._cond.wait(min(left, 0.5))

    def lines_matching(self, predicate):
        """A copy of the output lines for which predicate(line) holds."""
        with self._cond:
            return [line for line in self.lines if predicate(line)]

    def wait_until(self, predicate, timeout):
        """Waits until predicate(lines) holds; returns the lines."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: condition not met in {timeout}s; output:\n" + "\n".join(self.lines[-50:]))
                self._cond.wait(min(left, 0.5))
            return list(self.lines)

    def stop(self):
        """SIGTERM, then the exit code (our binaries must exit 0 on SIGTERM)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        return self.proc.returncode


def wait_for(what, predicate, timeout, interval=0.05):
    """Polls predicate() until it returns a true value, which is returned; fails after
    timeout seconds, naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(interval)


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


@pytest.fixture
def nl6_collector():
    """Factory: start nl6-collector with extra flags; stopped at teardown."""
    started = []

    def start(*args):
        proc = Daemon(list(args), binary_name="nl6-collector", ready="listening on")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        code = proc.stop()
        assert code == 0, "nl6-collector did not exit 0 on SIGTERM:\n" + "\n".join(proc.lines)


def updates(result):
    """{path: value} of a pygnmi Get result, paths absolute as pygnmi prints them (without
    the leading '/'): a Junos-shaped device sends its list entry as the prefix and paths
    relative to it."""
    return {
        (f"{n['prefix']}/{u['path']}" if n.get("prefix") else u["path"]): u.get("val")
        for n in result["notification"]
        for u in n.get("update", [])
    }


def gnmi_get(ip, port, path, encoding):
    """{path: value} of a plaintext pygnmi Get of `path` on the device at `ip`."""
    from pygnmi.client import gNMIclient

    with gNMIclient(target=(ip, port), insecure=True) as gc:
        return updates(gc.get(path=[path], encoding=encoding))
