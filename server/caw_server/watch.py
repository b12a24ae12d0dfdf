"""Watches ``<data_dir>/sessions`` and reports which sessions appeared, changed or went away.

Sessions written by any process count, this daemon's included: every write
of a ``trajectory.json`` (atomic, by rename) is one change of that session.
The watcher takes a moment to set up (its first poll); nobody waits for it
(``initialize`` does not): once it is up, sessions written since ``start``
are reported as changed, so nothing written in between is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from caw.errors import InvalidHandle
from caw.handle import check_id
from caw.store import Store

log = logging.getLogger("caw_server.watch")


class SessionWatcher:
    def __init__(
        self, sessions_dir: Path, on_change: Callable[[str], None], since: float | None = None
    ):
        """``since``: report sessions written from this wall-clock time on (default: start)."""
        self.sessions_dir = sessions_dir
        self.on_change = on_change
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self._since = since

    def start(self) -> None:
        # Modification times are wall-clock; a second's slack covers coarse file system clocks.
        self._since = (self._since if self._since is not None else time.time()) - 1.0
        self._task = asyncio.ensure_future(self._run())

    def _written_since_start(self) -> list[str]:
        found = []
        try:
            entries = list(os.scandir(self.sessions_dir))
        except OSError:
            return []
        for entry in entries:
            path = os.path.join(entry.path, "trajectory.json")
            try:
                if os.stat(path).st_mtime >= (self._since or 0.0):
                    found.append(path)
            except OSError:
                continue
        return found

    async def _set_ready(self) -> None:
        """Ready: report what was written while the watcher was being set up."""
        if self.ready.is_set():
            return
        self.ready.set()
        written = await asyncio.to_thread(self._written_since_start)
        ids = {sid for path in written if (sid := self._session_of(False, path))}
        for session_id in sorted(ids):
            self.on_change(session_id)

    def _session_of(self, deleted: bool, path: str) -> str | None:
        try:
            parts = Path(path).relative_to(self.sessions_dir).parts
        except ValueError:
            return None
        if (len(parts) == 2 and parts[1] == "trajectory.json") or (len(parts) == 1 and deleted):
            session_id = parts[0]
        else:
            return None
        try:
            return check_id(session_id, "session id")
        except InvalidHandle:
            return None

    async def _run(self) -> None:
        import watchfiles  # here, not with the daemon: it is started after initialize's answer

        try:
            Store(self.sessions_dir.parent).ensure()
        except OSError as exc:
            log.warning("not watching %s: %s", self.sessions_dir, exc)
            self.ready.set()
            return
        # The first yield of awatch comes after its watcher is set up; signal readiness right away
        # from a separate step so tests and clients can rely on changes after `ready` being seen.
        watcher = watchfiles.awatch(
            self.sessions_dir,
            watch_filter=lambda change, path: (
                self._session_of(change == watchfiles.Change.deleted, path) is not None
            ),
            stop_event=self._stop,
            debounce=400,
            step=30,
            yield_on_timeout=True,
            rust_timeout=200,
        )
        try:
            async for changes in watcher:
                await self._set_ready()
                ids = {
                    sid
                    for change, path in changes
                    if (sid := self._session_of(change == watchfiles.Change.deleted, path))
                    is not None
                }
                for session_id in sorted(ids):
                    self.on_change(session_id)
        except Exception:
            log.exception("watching %s failed; session/didChange is off", self.sessions_dir)
        finally:
            self.ready.set()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 2.0)
            if not self._task.done():
                self._task.cancel()
