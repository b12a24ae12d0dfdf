"""A synchronous caw-server over stdio for tests that write raw bytes (the fuzzer, the handle cases).

A reader thread parses the daemon's output strictly (``Content-Length`` framing,
JSON bodies) into a queue; anything else it prints is recorded as a protocol
violation. Requests wait for their own answer; answers to other ids, id-null
errors and batches are kept for the caller to match.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Any


class RpcFailure(Exception):
    def __init__(self, error: dict[str, Any]):
        super().__init__(f"{error.get('message')} (code {error.get('code')})")
        self.code = error.get("code")
        self.data = error.get("data")
        self.kind = self.data.get("kind") if isinstance(self.data, dict) else None
        self.error = error


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def encode(message: Any) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


class StdioDaemon:
    def __init__(self, *args: str, env: dict[str, str], cwd: str | None = None):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "caw_server", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, cwd=cwd, start_new_session=True,
        )  # fmt: skip
        self.inbox: queue.Queue[Any] = queue.Queue()
        self.notifications: list[tuple[str, Any]] = []
        self.answers: list[Any] = []  # every answer (for the leak scan)
        self.stderr_lines: list[str] = []
        self.violations: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        threading.Thread(target=self._read_stdout, daemon=True, name="caw-stdout").start()
        threading.Thread(target=self._read_stderr, daemon=True, name="caw-stderr").start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    # --- output -----------------------------------------------------------------------

    def _read_stdout(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while True:
                length = None
                while True:
                    line = out.readline()
                    if not line:
                        return
                    if line in (b"\r\n", b"\n"):
                        break
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                    elif name.strip().lower() != b"content-type":
                        self.violations.append(f"unexpected output line {line[:200]!r}")
                if length is None:
                    self.violations.append("a frame without Content-Length")
                    continue
                body = out.read(length)
                try:
                    message = json.loads(body)
                except ValueError:
                    self.violations.append(f"a frame that is not JSON: {body[:200]!r}")
                    continue
                if isinstance(message, dict) and "method" in message and "id" not in message:
                    self.notifications.append((message["method"], message.get("params")))
                    continue
                self.answers.append(message)
                self.inbox.put(message)
        finally:
            self.inbox.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode("utf-8", "replace").rstrip())

    # --- input ------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        self.write(frame(encode(message)))

    def next_id(self, prefix: str = "t") -> str:
        return f"{prefix}-{next(self._ids)}"

    def collect(self, until: Any, timeout: float) -> list[Any]:
        """Answers up to and including the one with id ``until``; raises on timeout or end of output."""
        got: list[Any] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer to {until!r} within {timeout:g} s (got {got!r})")
            try:
                message = self.inbox.get(timeout=remaining)
            except queue.Empty:
                continue
            if message is None:
                self.inbox.put(None)
                raise ConnectionError(
                    f"the daemon closed its output (exit {self.proc.poll()}) before answering {until!r}"
                )
            got.append(message)
            if isinstance(message, dict) and message.get("id") == until:
                return got

    def request(self, method: str, params: Any = None, timeout: float = 60.0) -> Any:
        """Send a request and return its result (other answers that arrive first are returned to the inbox)."""
        request_id = self.next_id("req")
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        got = self.collect(request_id, timeout)
        answer = got.pop()
        for other in got:
            self.inbox.put(other)
        if "error" in answer:
            raise RpcFailure(answer["error"])
        return answer["result"]

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def initialize(self) -> Any:
        result = self.request(
            "initialize", {"processId": None, "rootUri": None, "capabilities": {}}
        )
        self.notify("initialized", {})
        return result

    # --- state ------------------------------------------------------------------------

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            return int(next(line for line in status if line.startswith("VmRSS")).split()[1])

    def close(self, timeout: float = 60.0) -> int:
        """shutdown + exit; kill the group if it does not go."""
        if self.alive():
            try:
                self.request("shutdown", timeout=timeout)
                self.notify("exit")
            except (RpcFailure, TimeoutError, ConnectionError, BrokenPipeError, OSError):
                pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            return self.proc.wait(10)
