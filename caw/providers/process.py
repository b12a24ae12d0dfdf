"""Supervising a backend CLI process: the one place caw spawns and ends children.

Every child runs in its own process group and gets a parent-death signal, so it
ends with caw even when caw is SIGKILLed; ``stop()`` ends the whole group and every process
carrying the backend's marker; interpreter exit ends any child a user forgot, and caw's
watchdog (caw.providers.watchdog) what a tool detached, after a kill -9 of caw. stderr is drained into a bounded
tail so errors can quote what the CLI said; :meth:`ChildProcess.exit_error` is the
one place an exit becomes a :class:`~caw.errors.BackendFailed`.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import ctypes
import errno
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ..errors import BackendFailed
from ..redact import hide_environment, redact
from .watchdog import MARKER_ENV, kill_marked, unwatch, watch

log = logging.getLogger("caw.process")

# A line from a CLI can carry a whole file read by a tool.
LINE_LIMIT = 64 * 1024 * 1024
STDERR_TAIL_LINES = 40
# Every backend gets a random value under MARKER_ENV; all it starts inherit it, and
# kill_marked ends them (ChildProcess.stop, and caw's watchdog after a kill -9 of caw).
# The stdout pipe's buffer (capped by /proc/sys/fs/pipe-max-size): see _grow_stdout_pipe.
STDOUT_PIPE_SIZE = 1024 * 1024

_live: weakref.WeakSet[ChildProcess] = weakref.WeakSet()


class LineTooLong(BackendFailed):
    """A backend printed a line longer than :data:`LINE_LIMIT`."""


class ArgumentTooLong(BackendFailed):
    """The backend's command line or environment is over the system's limit (E2BIG)."""

    kind = "argumentTooLong"


class TooManyOpenFiles(BackendFailed):
    """caw's process (or the system) is out of file descriptors (EMFILE, ENFILE)."""

    kind = "tooManyOpenFiles"


class WorkingDirectoryMissing(BackendFailed):
    """The session's working directory (e.g. a stored ``cwd``) no longer exists."""

    kind = "cwdMissing"


def _spawn_error(exc: OSError, name: str, argv: Sequence[str], cwd: str | None) -> Exception:
    """A distinct error for a spawn that failed for a reason the user can act on (issue 21,
    finding 9); any other OSError as it was (a missing CLI is found before this)."""
    if exc.errno == errno.E2BIG:
        size = sum(len(a) + 1 for a in argv)
        return ArgumentTooLong(
            f"{name} could not start: its command line and environment are over the system's"
            f" limit (E2BIG; argv {size} bytes)"
        )
    if exc.errno in (errno.EMFILE, errno.ENFILE):
        return TooManyOpenFiles(
            f"{name} could not start: out of file descriptors ({os.strerror(exc.errno)});"
            " end some sessions or raise the limit (ulimit -n)"
        )
    if cwd is not None and exc.errno in (errno.ENOENT, errno.ENOTDIR) and not os.path.isdir(cwd):
        return WorkingDirectoryMissing(
            f"{name} could not start: its working directory {cwd!r} does not exist (moved or"
            " deleted?); resume the session with another cwd"
        )
    return exc


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n} bytes"


# Loaded once here: the child between fork and exec should do as little as possible.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    """preexec_fn: ask Linux to SIGTERM this child when its parent dies."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)


def _pipe_max_size() -> int:
    try:
        with open("/proc/sys/fs/pipe-max-size") as f:
            return min(int(f.read()), STDOUT_PIPE_SIZE)
    except (OSError, ValueError):
        return 0


def _grow_stdout_pipe(proc: asyncio.subprocess.Process) -> None:
    """Give the child's stdout pipe up to :data:`STDOUT_PIPE_SIZE` of buffer.

    A Node or Bun CLI that exits right after printing (``opencode run``) loses whatever of
    its output the pipe could not take at once: with Linux's default 64 KiB a long answer's
    last line was cut off (issue 21, finding 6). The pipe is caw's end of a child it just
    made, reached through asyncio's transport (no public accessor)."""
    size = _pipe_max_size()
    transport = getattr(proc, "_transport", None)
    pipe = transport.get_pipe_transport(1) if transport is not None else None
    fileobj = pipe.get_extra_info("pipe") if pipe is not None else None
    if not size or fileobj is None or not hasattr(fcntl, "F_SETPIPE_SZ"):
        return
    try:
        fcntl.fcntl(fileobj.fileno(), fcntl.F_SETPIPE_SZ, size)
    except (OSError, ValueError) as exc:  # over the pipe quota, or the child already ended
        log.debug("could not grow the stdout pipe: %s", exc)


def private_folder(prefix: str) -> str:
    """A new folder only this user can enter (0700), for what must not go on argv."""
    return tempfile.mkdtemp(prefix=prefix)


def private_file(folder: str, name: str, text: str) -> str:
    """``text`` written to ``folder/name`` readable by this user only (0600); its path."""
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


class ChildProcess:
    """One running CLI process with piped stdio."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str):
        self.proc = proc
        self.name = name
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_task = asyncio.ensure_future(self._drain_stderr()) if proc.stderr else None
        self.skipped_lines = 0  # stdout lines json_lines() could not read as a JSON object
        self._remove: list[str] = []
        self.marker = ""  # this backend's MARKER_ENV value, inherited by all it starts
        _live.add(self)

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        *,
        name: str,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bool = True,
    ) -> ChildProcess:
        parent = os.getpid()
        hide_environment(env if env is not None else os.environ)
        marker = secrets.token_hex(12)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**(os.environ if env is None else env), MARKER_ENV: marker},
                cwd=cwd,
                start_new_session=True,
                preexec_fn=lambda: _die_with_parent(parent),
                limit=LINE_LIMIT,  # read at each spawn, so a test may lower it
            )
        except OSError as exc:
            raise _spawn_error(exc, name, argv, cwd) from exc
        watch(marker)  # a kill -9 of caw now ends what this backend starts, too
        _grow_stdout_pipe(proc)
        log.debug("started %s (pid %s)", name, proc.pid)
        child = cls(proc, name)
        child.marker = marker
        return child

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                return
            self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def stderr_tail(self) -> str:
        """The last stderr lines, redacted: a CLI may name its conversations' ids in its log
        lines (codex: its shell snapshot files)."""
        return redact("\n".join(self._stderr))

    async def wait_stderr(self, timeout: float = 1.0) -> None:
        """Let the stderr reader catch up (after an exit) so the tail is complete."""
        if self._stderr_task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), timeout)

    def describe_exit(self) -> str:
        code = self.returncode
        if code is None:
            return f"{self.name} is still running"
        if code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        tail = self.stderr_tail()
        return f"{self.name} {how}" + (f"; its stderr ends with:\n{tail}" if tail else "")

    async def exit_error(
        self,
        what: str,
        *,
        wait_exit: float = 2.0,
        wait_stderr: float = 1.0,
        error: type[BackendFailed] = BackendFailed,
    ) -> BackendFailed:
        """The error for this process having ended: ``what``, how it exited, its stderr tail.

        Waits up to ``wait_exit`` seconds for the exit status (the output may close just
        before it) and ``wait_stderr`` for the stderr reader, so the message is complete.
        """
        if wait_exit > 0 and self.alive:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.proc.wait()), wait_exit)
        await self.wait_stderr(wait_stderr)
        return error(
            f"{what}: {self.describe_exit()}",
            exit_code=self.returncode,
            stderr_tail=self.stderr_tail(),
        )

    async def read_line(self) -> bytes:
        """The next stdout line, b"" at end of output.

        A line longer than :data:`LINE_LIMIT` raises :class:`LineTooLong` (a BackendFailed):
        the turn it belongs to cannot be read whole, so the session core stops this backend
        rather than read on out of step."""
        assert self.proc.stdout is not None
        try:
            return await self.proc.stdout.readline()
        except ValueError as exc:  # asyncio's LimitOverrunError, re-raised by readline
            raise LineTooLong(
                f"{self.name} printed a line longer than caw's limit of {_size(LINE_LIMIT)}"
                " (caw.providers.process.LINE_LIMIT); the turn was broken off"
            ) from exc

    async def json_lines(self) -> AsyncIterator[dict[str, Any]]:
        """Parse stdout as JSON lines until EOF. A line that is not a JSON object is skipped
        with a warning and counted in :attr:`skipped_lines` (callers whose wire has no other
        sign of a torn answer check it)."""
        while True:
            line = await self.read_line()
            if not line:
                return
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                yield obj
                continue
            self.skipped_lines += 1
            # Not the line itself: it may carry a resume key or a secret a tool read.
            log.warning(
                "%s printed a line that is not a JSON object (%d bytes); skipped",
                self.name,
                len(line),
            )

    async def write_stdin(self, text: str) -> None:
        """Write ``text`` as the whole of stdin and close it (a CLI that reads its prompt
        there); a CLI that exited meanwhile is left to its exit status."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(text.encode("utf-8"))
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_stdin()

    async def write_json(self, obj: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj, separators=(",", ":")) + "\n").encode("utf-8"))
        await self.proc.stdin.drain()

    def close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def remove_on_stop(self, path: str) -> None:
        """Delete ``path`` (a private folder made for this process) once it is stopped."""
        self._remove.append(path)

    async def stop(self, grace: float = 3.0) -> None:
        """End the process and its group: SIGTERM, then SIGKILL after ``grace`` seconds."""
        if self.alive:
            self._signal_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except asyncio.TimeoutError:
                self._signal_group(signal.SIGKILL)
                await self.proc.wait()
        # Children of the CLI (tool commands) may outlive it in its group, or in a session of
        # their own (setsid): every process that inherited this backend's marker ends too.
        self._signal_group(signal.SIGKILL)
        kill_marked(self.marker)
        unwatch(self.marker)
        self.close_stdin()
        await self._discard_stdout(0.5)
        if self._stderr_task is not None:
            await self.wait_stderr(0.5)
            self._stderr_task.cancel()
        _live.discard(self)
        for path in self._remove:
            shutil.rmtree(path, ignore_errors=True)
        self._remove.clear()
        log.debug("stopped %s (%s)", self.name, self.describe_exit().splitlines()[0])

    async def _discard_stdout(self, timeout: float) -> None:
        """Read what is left of stdout to its end. A reader that stopped early (a line over
        the limit) leaves the pipe paused with its buffer full: it would never see EOF, and
        the process's transport, never closed, would outlive its event loop."""
        stdout = self.proc.stdout
        if stdout is None:
            return

        async def drain() -> None:
            while await stdout.read(1 << 16):
                pass

        # RuntimeError: a reader of this backend still waits on stdout; it reads to EOF itself.
        with contextlib.suppress(asyncio.TimeoutError, RuntimeError, ValueError):
            await asyncio.wait_for(drain(), timeout)

    def kill_now(self) -> None:
        """Synchronous last resort (interpreter exit)."""
        self._signal_group(signal.SIGKILL)
        kill_marked(self.marker)


@atexit.register
def _kill_leftovers() -> None:
    for child in list(_live):
        child.kill_now()
