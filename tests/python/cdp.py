"""A small Chrome DevTools Protocol client over `--remote-debugging-pipe`.

Chromium reads NUL-terminated JSON commands on fd 3 and writes replies and events on fd 4,
so a test needs no WebDriver, no chromium-driver of a matching version and no WebSocket
library: a pipe, `json` and a thread.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

# Where Debian's `chromium` package (and other distributions' builds) put the browser.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium():
    """The browser program: $NL6_CHROMIUM, else the first candidate on $PATH, else None."""
    explicit = os.environ.get("NL6_CHROMIUM")
    if explicit:
        return explicit if shutil.which(explicit) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def skip(test, reason):
    """Prints `SKIPPED <test>: <reason>` (and appends it to $NL6_SKIP_LOG) and skips; with
    CI=true as root, where every test can run, the skip is a failure instead."""
    line = f"SKIPPED {test}: {reason}"
    if os.environ.get("CI") == "true" and os.geteuid() == 0:
        pytest.fail(f"{line} (CI=true and root: nothing may skip)")
    print(line)
    log = os.environ.get("NL6_SKIP_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    pytest.skip(line)


class CdpError(RuntimeError):
    """A command answered with an error, or the browser went away."""


class Chromium:
    """A headless Chromium with one page, driven over the DevTools pipe."""

    def __init__(self, binary, width=1280, height=800, timeout=30.0):
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="nl6-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [
            binary, "--headless=new", "--remote-debugging-pipe", "--no-sandbox",
            "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-sync",
            "--no-proxy-server", "--hide-scrollbars", "--mute-audio",
            f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}",
            "about:blank",
        ]
        # The browser wants the pipe on fds 3 and 4 exactly; nothing else is inherited.
        def pipe_fds():
            read, write = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(read, 3)
            os.dup2(write, 4)
            os.closerange(5, os.sysconf("SC_OPEN_MAX"))

        self.proc = subprocess.Popen(
            args, preexec_fn=pipe_fds, close_fds=False,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._replies = {}
        self._cond = threading.Condition()
        self._closed = False
        self._stderr = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self._stderr.append(line.decode(errors="replace").rstrip())
            del self._stderr[:-50]

    def _read(self):
        buffer = b""
        while True:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                break
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    with self._cond:
                        self._replies[message["id"]] = message
                        self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def call(self, method, session=False, **params):
        """Sends one command and waits for its reply's `result`."""
        with self._cond:
            self._next_id += 1
            ident = self._next_id
        message = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise CdpError(f"{method}: no reply ({'browser exited' if self._closed else 'timeout'}); "
                                   "browser stderr:\n" + "\n".join(self._stderr))
                self._cond.wait(min(left, 0.5))
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def navigate(self, url):
        """Opens url and waits until its document has loaded."""
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("document.readyState === 'complete' && location.href === " + json.dumps(url),
                      timeout=self.timeout)

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.call("Runtime.evaluate", session=True, expression=expression,
                           returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise CdpError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout=20.0, what=None):
        """Waits until expression is truthy in the page; returns its value. Fails after
        timeout with the last value seen."""
        deadline = time.monotonic() + timeout
        value = None
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what or expression}: not true within {timeout}s (last: {value!r})")
            time.sleep(0.1)

    def screenshot(self, path):
        """Saves the viewport as a PNG; returns its bytes."""
        data = base64.b64decode(self.call("Page.captureScreenshot", session=True, format="png")["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def close(self):
        """Asks the browser to exit, then makes sure it did."""
        try:
            self.call("Browser.close")
        except (CdpError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._profile.cleanup()
