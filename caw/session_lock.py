"""One writer per session: an advisory lock in the session's folder.

Two processes (two daemons, two editor windows, a script) that resume the same session would
each drive their own backend on the same conversation: claude forks it, opencode keeps the last
writer's turns, and ``trajectory.json`` keeps one side. So the process that starts or resumes a
session holds ``<session>/lock`` (``flock``) until the session ends, and another process gets
:class:`~caw.errors.SessionBusy`.

The kernel drops an ``flock`` when its holder exits, however it exits (``kill -9`` included), so
a dead holder's lock is simply taken over: no stale-lock clean-up, no guessing from pids. The
file's content (the holder's pid) is only for the error message. Within one process the lock is
held once per session; several clients share a live session through the one process that holds
it (the daemon hands its live session to every client that resumes it).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import weakref
from pathlib import Path

from .errors import SessionBusy, UnsafeDataDir
from .store_safety import open_nofollow

log = logging.getLogger("caw.session_lock")

LOCK_NAME = "lock"


class SessionLock:
    """The held writer lock of one session folder; :meth:`release` (or process exit) frees it."""

    def __init__(self, fd: int, path: Path):
        self.path = path
        self._fd: int | None = fd
        # A session dropped without end() still frees its lock when it is collected.
        self._closer = weakref.finalize(self, os.close, fd)

    @classmethod
    def acquire(cls, folder: Path, session_id: str) -> SessionLock | None:
        """Lock ``folder`` for this process, or raise SessionBusy naming the holder.

        None (with a warning) when the lock file cannot be made at all (a full or read-only
        disk): the session still runs, as its other writes degrade to warnings too."""
        path = folder / LOCK_NAME
        try:
            # Read-only: flock needs no write access, and a file held open for writing would
            # keep the data dir's filesystem from being remounted read-only.
            fd = open_nofollow(path, os.O_RDONLY | os.O_CREAT)
        except UnsafeDataDir:
            raise
        except OSError as exc:
            log.warning("session %s: cannot lock %s: %s", session_id, path, exc.strerror or exc)
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise SessionBusy(
                f"session {session_id} is open in another caw process{holder}: a session has one "
                "writer at a time. End it there (session/end, or close that editor's chat), or use "
                "the daemon that has it open; a process that died frees it at once"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        with contextlib.suppress(OSError):  # the pid is a courtesy for the message above
            writer = open_nofollow(path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(writer, f"{os.getpid()}\n".encode())
            finally:
                os.close(writer)
        return cls(fd, path)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Free the lock (idempotent). The file stays: removing it would race a new holder."""
        if self._fd is not None:
            self._fd = None
            self._closer()


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
