"""The live sessions of this daemon (sessionId -> AsyncSession) and their idle reaping.

An idle session's backend process is released after ``idle_timeout`` seconds;
the session stays registered and its next send resumes the backend by key
(the core does that when the conversation is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from caw.errors import UnknownSession

if TYPE_CHECKING:  # the session stack is imported after initialize's answer (caw_server.startup)
    from caw.session import AsyncSession

log = logging.getLogger("caw_server.registry")


class Registry:
    def __init__(self, idle_timeout: float | None = None):
        self.idle_timeout = idle_timeout
        self._sessions: dict[str, AsyncSession] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._reaping: set[asyncio.Task[None]] = set()
        # One attach at a time per session id, so two resumes cannot start two backends.
        self._attach_locks: dict[str, asyncio.Lock] = {}

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._sessions

    def __iter__(self) -> Iterator[AsyncSession]:
        return iter(list(self._sessions.values()))

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> AsyncSession:
        session = self._sessions.get(session_id)
        if session is None:
            raise UnknownSession(
                f"no live session {session_id[:128]!r} in this daemon (session/resume it first)"
            )
        return session

    def find(self, session_id: str) -> AsyncSession | None:
        return self._sessions.get(session_id)

    def attach_lock(self, session_id: str) -> asyncio.Lock:
        return self._attach_locks.setdefault(session_id, asyncio.Lock())

    def add(self, session: AsyncSession) -> None:
        self._sessions[session.session_id] = session
        self.touch(session.session_id)

    def pop(self, session_id: str) -> AsyncSession:
        session = self.get(session_id)
        del self._sessions[session_id]
        self._attach_locks.pop(session_id, None)
        if (timer := self._timers.pop(session_id, None)) is not None:
            timer.cancel()
        return session

    # --- idle reaping ------------------------------------------------------------------

    def touch(self, session_id: str) -> None:
        """The session was used now: restart its idle clock."""
        if (timer := self._timers.pop(session_id, None)) is not None:
            timer.cancel()
        if self.idle_timeout is not None and session_id in self._sessions:
            loop = asyncio.get_running_loop()
            self._timers[session_id] = loop.call_later(self.idle_timeout, self._idle, session_id)

    def _idle(self, session_id: str) -> None:
        self._timers.pop(session_id, None)
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.busy:
            return self.touch(session_id)
        if not session.live:
            return None
        task = asyncio.ensure_future(self._release(session))
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)
        return None

    async def _release(self, session: AsyncSession) -> None:
        try:
            await session.release_backend()
        except Exception:
            log.exception("session %s: releasing the idle backend failed", session.session_id)
            return
        if not session.live:
            log.info(
                "session %s: idle for %g s, backend stopped (the next send resumes it)",
                session.session_id,
                self.idle_timeout,
            )

    # --- shutdown ----------------------------------------------------------------------

    async def end_all(self, timeout: float = 20.0) -> None:
        """End every session and its backend (cancelling running turns)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for task in list(self._reaping):
            task.cancel()
        if not sessions:
            return
        ending = asyncio.gather(*(s.end() for s in sessions), return_exceptions=True)
        try:
            results = await asyncio.wait_for(ending, timeout)
        except asyncio.TimeoutError:
            log.warning(
                "some sessions did not end within %g s; their processes are killed on exit", timeout
            )
            return
        for session, result in zip(sessions, results, strict=False):
            if isinstance(result, BaseException):
                log.warning("session %s: ending failed: %s", session.session_id, result)

    def set_idle_timeout(self, idle_timeout: float | None) -> None:
        self.idle_timeout = idle_timeout
        for session_id in list(self._sessions):
            self.touch(session_id)

    async def wait_reaping(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._reaping, return_exceptions=True)
