"""Standby backends: a new session's first answer as warm as the next (issue 20).

For each (provider, workspace, options) that ``session/start`` used recently the
daemon keeps ``--standby N`` backends started ahead (caw.providers.standby):
claude, a process with a fresh session id, which the next start with these
options adopts (and a new one is started behind it); codex and opencode, a
thread or session created ahead on their shared server (whose use it holds, so
that the server keeps running between sessions instead of stopping with the
last one). Bounded: at most :data:`MAX_KEYS` keys, the
least recently used one let go first; a key nobody has used for ``idle``
seconds is let go. One that has died is replaced, never handed out. Every
standby is a child of the daemon like any backend: it ends with it (a kill -9
included: the parent-death signal of caw.providers.process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from caw.providers.standby import Standby

if TYPE_CHECKING:  # the agent stack is imported after initialize's answer (caw_server.startup)
    from caw.agent import AsyncAgent

log = logging.getLogger("caw_server.standby")

MAX_KEYS = 4
DEFAULT_IDLE = 600.0

AgentFactory = Callable[[], "AsyncAgent"]
Key = tuple[Any, ...]  # (provider, cwd, ...): caw_server.app._standby_key


class StandbyPool:
    def __init__(self, size: int, idle: float | None = None):
        self.size = max(0, size)
        self.idle = idle if idle is not None else DEFAULT_IDLE
        self._ready: dict[Key, list[Standby]] = {}
        self._used: dict[Key, float] = {}  # key -> when a session last started with it
        self._filling: dict[Key, asyncio.Task[None]] = {}
        self._agents: dict[Key, AgentFactory] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False

    def resize(self, size: int) -> None:
        """A new size; 0 lets every standby go."""
        self.size = max(0, size)
        if self.size == 0:
            for key in list(self._used):
                self._drop(key)

    def __len__(self) -> int:
        return sum(len(ready) for ready in self._ready.values())

    def standbys(self) -> list[Standby]:
        return [standby for ready in self._ready.values() for standby in ready]

    def claim(self, key: Key) -> Standby | None:
        """A live standby a session with this key uses up (claude's process), if there is one;
        dead ones are dropped (and replaced by :meth:`refill`)."""
        ready = self._ready.get(key, [])
        for standby in list(ready):
            if not standby.alive:
                ready.remove(standby)
                self._let_go(standby)
            elif standby.used_up_by_start:
                ready.remove(standby)
                return standby
        return None

    def refill(self, key: Key, agent: AgentFactory) -> None:
        """Note that ``key`` was used now; start standbys for it, in the background, up to
        the pool's size."""
        if self.size == 0 or self._closed:
            return
        self._used[key] = time.monotonic()
        self._agents[key] = agent
        self._bound()
        self._start_fill(key)
        if self._reaper is None:
            self._reaper = asyncio.ensure_future(self._reap())

    def replenish(self) -> None:
        """Replace the standbys that died or were let go since (ending a codex session lets
        go of the standby on its app-server), for the keys still in use."""
        if self.size == 0 or self._closed:
            return
        for key in list(self._used):
            self._start_fill(key)

    def _start_fill(self, key: Key) -> None:
        filling = self._filling.get(key)
        if filling is None or filling.done():
            self._filling[key] = asyncio.ensure_future(self._fill(key, self._agents[key]))

    async def _fill(self, key: Key, agent: AgentFactory) -> None:
        while not self._closed and key in self._used:
            ready = self._ready.setdefault(key, [])
            for dead in [s for s in ready if not s.alive]:
                ready.remove(dead)
                self._let_go(dead)
            if len(ready) >= self.size:
                return
            try:
                standby = await agent().prestart()
            except Exception as exc:  # a session start reports the same error itself
                log.debug("no standby backend for %s: %s", key[0], exc)
                return
            if standby is None:
                return
            if self._closed or key not in self._used:
                await standby.discard()
                return
            self._ready.setdefault(key, []).append(standby)
            log.debug("standby %s backend ready (pid %s)", key[0], standby.pid)

    def _bound(self) -> None:
        """At most MAX_KEYS keys: the least recently used beyond that are let go."""
        for key in sorted(self._used, key=self._used.__getitem__)[:-MAX_KEYS]:
            self._drop(key)

    def _drop(self, key: Key) -> None:
        # A start under way is not cancelled (that could leave its process or its use of a
        # server unowned): _fill lets it go once it is up, the key being gone.
        self._used.pop(key, None)
        self._agents.pop(key, None)
        self._filling.pop(key, None)
        for standby in self._ready.pop(key, []):
            self._let_go(standby)

    def _let_go(self, standby: Standby) -> None:
        task = asyncio.ensure_future(standby.discard())
        task.add_done_callback(_log_failure)

    async def _reap(self) -> None:
        while not self._closed:
            await asyncio.sleep(max(0.5, min(self.idle / 4, 30.0)))
            now = time.monotonic()
            for key in [k for k, used in self._used.items() if now - used >= self.idle]:
                log.debug("standby backends for %s unused for %.0f s: stopped", key[0], self.idle)
                self._drop(key)

    async def aclose(self) -> None:
        """Stop every standby (daemon shutdown). Idempotent."""
        self._closed = True
        tasks = [t for t in (*self._filling.values(), self._reaper) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        standbys = self.standbys()
        self._ready.clear()
        self._used.clear()
        for standby in standbys:
            with contextlib.suppress(Exception):
                await standby.discard()


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("stopping a standby backend failed: %s", task.exception())
