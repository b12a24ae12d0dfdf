"""The sweeper that outlives caw: after caw dies (even by SIGKILL) it ends what its backends
started (issue 21, finding 9).

A tool command that calls ``setsid`` leaves its backend's process group and session, so
neither the backend's parent-death signal nor a group kill reaches it. Every backend carries
a random ``CAW_BACKEND_MARKER`` that all it starts inherit; :meth:`ChildProcess.stop` sweeps
it. After ``kill -9`` nothing in caw runs, so each owning process (a library user's, or
caw-server) has one watchdog: a small process started with its first backend, told each
backend's marker over a pipe. When the owner dies the kernel closes the pipe's write end; the
watchdog reads end of file, kills every process carrying a marker still registered, and
exits. It is never an orphan for longer than that sweep.

This file runs as the watchdog's whole program (``python -I watchdog.py``): standard library
only, no ``caw`` import, so it starts in a few milliseconds and holds little memory.
:func:`kill_marked` is also what ``ChildProcess.stop`` calls.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading

log = logging.getLogger("caw.process")

MARKER_ENV = "CAW_BACKEND_MARKER"
# The watchdog's own environment names its owner, so it can be told apart (and found).
WATCHDOG_ENV = "CAW_WATCHDOG_OF"


def kill_marked(marker: str) -> int:
    """SIGKILL every process of this user whose environment carries ``MARKER_ENV=marker``:
    the backend's descendants, also those that left its process group and session (setsid)
    or were re-parented to init. Needs no privileges and no cgroup; a tool that scrubs its
    whole environment escapes it (docs/reliability.md). Returns how many were killed."""
    if not marker or not os.path.isdir("/proc"):
        return 0
    needle = f"{MARKER_ENV}={marker}".encode() + b"\0"
    killed = 0
    for _ in range(3):  # a process may fork while we scan: scan until a pass finds none
        found = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read()
            except OSError:  # gone, or another user's
                continue
            if needle in environ or environ.endswith(needle[:-1]):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(entry), signal.SIGKILL)
                    found += 1
        killed += found
        if not found:
            break
    if killed:
        log.debug("killed %d leftover process(es) of a backend", killed)
    return killed


class Watchdog:
    """The owner's side: starts the watchdog off the caller's path and tells it the markers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._markers: set[str] = set()
        self._owner = 0  # the pid that started the current watchdog (a fork needs its own)
        self._write = -1
        self.process: subprocess.Popen[bytes] | None = None

    def add(self, marker: str) -> None:
        """Register a backend's marker; starts the watchdog (in a thread) if there is none."""
        with self._lock:
            if self._owner != os.getpid():  # the first backend, or a forked child's first
                if self._write >= 0:
                    os.close(self._write)  # the parent's pipe: its watchdog is the parent's
                self._write, self._markers, self._owner = -1, set(), os.getpid()
            self._markers.add(marker)
            if self._send(f"+{marker}\n"):
                return
        # Spawning a Python takes milliseconds that must not delay a backend's first answer.
        threading.Thread(target=self._start, name="caw-watchdog-start", daemon=True).start()

    def remove(self, marker: str) -> None:
        """A backend was stopped and swept: the watchdog forgets its marker."""
        with self._lock:
            self._markers.discard(marker)
            if self._owner == os.getpid():
                self._send(f"-{marker}\n")

    def _send(self, line: str) -> bool:
        if self._write < 0:
            return False
        try:
            os.write(self._write, line.encode())
            return True
        except BlockingIOError:  # the watchdog has not read 64 KiB of lines: it is stuck
            log.warning("caw's process watchdog is not reading; a marker was not sent")
            return True
        except OSError:  # the watchdog is gone (EPIPE): start another
            os.close(self._write)
            self._write = -1
            return False

    def _start(self) -> None:
        with self._lock:
            if self._write >= 0 or not os.path.isdir("/proc"):
                return
            read, write = os.pipe()  # both close-on-exec: no backend inherits the write end
            try:
                os.set_blocking(write, False)
                self.process = subprocess.Popen(
                    [sys.executable, "-I", os.path.abspath(__file__)],
                    stdin=read,
                    stdout=subprocess.DEVNULL,  # never hold the owner's stdout or stderr open
                    stderr=subprocess.DEVNULL,
                    cwd="/",
                    env={**os.environ, WATCHDOG_ENV: str(os.getpid())},
                    start_new_session=True,  # a Ctrl-C to the owner's group must not kill it
                )
            except OSError as exc:
                os.close(write)
                log.warning("could not start caw's process watchdog: %s", exc)
                return
            finally:
                os.close(read)
            self._write = write
            os.write(write, "".join(f"+{m}\n" for m in self._markers).encode())
        log.debug("started caw's process watchdog (pid %s)", self.process.pid)


_watchdog = Watchdog()


def watch(marker: str) -> None:
    _watchdog.add(marker)


def unwatch(marker: str) -> None:
    _watchdog.remove(marker)


def _main() -> None:
    """The watchdog: collect markers from stdin until end of file (the owner is gone), then
    sweep them all."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A SIGTERM (system shutdown, a user's kill) sweeps too: stdin is then closed by hand.
    signal.signal(signal.SIGTERM, lambda *_: os.close(0))
    markers: set[str] = set()
    pending = b""
    while True:
        try:
            chunk = os.read(0, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            break
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            text = line.decode("ascii", "replace")
            if text.startswith("+"):
                markers.add(text[1:])
            elif text.startswith("-"):
                markers.discard(text[1:])
    for marker in markers:
        kill_marked(marker)


if __name__ == "__main__":
    _main()
