"""Backend servers shared by conversations: one per key, refcounted, remembered when they fail.

A CLI with a server mode (codex app-server, opencode serve) runs one server per
environment for all its conversations. :class:`ServerPool` starts it for the
first, counts users, stops it with the last, and remembers a failed start so the
adapter can fall back to its per-turn mode without trying again on every turn.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, Protocol, TypeVar


class SharedServer(Protocol):
    @property
    def alive(self) -> bool: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=SharedServer)


class ServerPool(Generic[S]):
    """Servers by key (everything that decides which conversations may share one).

    ``failures``: the exceptions of a failed start (others propagate unremembered);
    ``retry_after``: how long a failed key is left to the fallback before trying again.
    """

    def __init__(
        self, failures: tuple[type[BaseException], ...], retry_after: float = math.inf
    ) -> None:
        self._failures = failures
        self._retry_after = retry_after
        self._servers: dict[Hashable, S] = {}
        self._users: dict[int, int] = {}  # id(server) -> conversations holding it
        self._keys: dict[int, Hashable] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._failed: dict[Hashable, float] = {}  # key -> when its server last failed to start

    async def acquire(
        self, key: Hashable, launch: Callable[[], Awaitable[S]], *, fall_back: bool
    ) -> S | None:
        """The key's running server (started if need be) with a use counted, or None when
        ``fall_back`` and it failed to start recently. A failed start raises its error."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            server = self._servers.get(key)
            if server is not None and not server.alive:
                self._forget(server)
                await server.stop()  # idempotent; its conversations release it too
                server = None
            if server is None:
                failed_at = self._failed.get(key, -math.inf)
                if fall_back and time.monotonic() - failed_at < self._retry_after:
                    return None
                try:
                    server = await launch()
                except self._failures:
                    self._failed[key] = time.monotonic()
                    raise
                self._failed.pop(key, None)
                self._servers[key] = server
                self._keys[id(server)] = key
            self._users[id(server)] = self._users.get(id(server), 0) + 1
            return server

    async def release(self, server: S) -> bool:
        """Drop one use; the last stops the server. True when this was the last use."""
        users = self._users.get(id(server), 0) - 1
        if users > 0:
            self._users[id(server)] = users
            return False
        self._forget(server)
        await server.stop()
        return True

    def retire(self, server: S) -> None:
        """Hand no new use of ``server`` out (the next ``acquire`` of its key starts a fresh
        one); it still stops with the last of the uses it has."""
        key = self._keys.pop(id(server), None)
        if key is not None and self._servers.get(key) is server:
            del self._servers[key]

    def _forget(self, server: S) -> None:
        key = self._keys.pop(id(server), None)
        self._users.pop(id(server), None)
        if key is not None and self._servers.get(key) is server:
            del self._servers[key]

    def __len__(self) -> int:
        return len(self._servers)

    async def aclose(self) -> None:
        """Stop every server (provider shutdown), whoever still holds it."""
        servers = list(self._servers.values())
        self._servers.clear()
        self._keys.clear()
        self._users.clear()
        for server in servers:
            await server.stop()
