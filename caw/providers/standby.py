"""Backends started ahead of the session that will use them (issue 20: a warm first answer).

``Provider.prestart(options)`` starts what ``Provider.start(options)`` would start
and returns a :class:`Standby`; a later ``start`` with the same options (and, for
claude, the standby's session id) uses it. caw-server keeps a few of them
(``caw_server.standby``); a standby never differs from a fresh start: the
provider uses one only when what it would start now is exactly what the standby
runs (command line, environment, working directory), and only while it lives.
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol, TypeVar

# From the kill on, a SIGKILL stays pending at the process level (/proc's ShdPnd) until the
# process is gone; from its exit on, its main thread is flagged PF_EXITING (stat's flags).
_SIGKILL = 1 << (signal.SIGKILL - 1)
_PF_EXITING = 0x4
_ENDED = ("Z", "X")  # a zombie, or reaped (its /proc entry still open)


def running(pid: int | None) -> bool:
    """Whether process ``pid`` still runs and is not on its way out, as the system sees it.

    A standby killed a moment ago stays in the process table while the system tears it
    down (state R for milliseconds, its command line already gone), then as a zombie
    until asyncio reaps it: from the kill on it counts as ended, so that it is never
    handed out meanwhile (to start again under its session id). asyncio may reap it at
    any moment (Python 3.11's child watcher waits from a thread): a /proc file opened
    before that then reads as ESRCH, which also means ended."""
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        # After the name: state, ppid, ..., flags (the 7th), ..., pending signals (the 29th).
        states = (fields[0], status["State"].split()[0])
        flags, pending = int(fields[6]), int(fields[28]) | int(status["ShdPnd"], 16)
    except (FileNotFoundError, ProcessLookupError):
        return False
    except (OSError, IndexError, ValueError, KeyError):
        return True  # no /proc as on Linux: what the process object says
    ended = any(state in _ENDED for state in states)
    return not ended and not flags & _PF_EXITING and not pending & _SIGKILL


class Standby(ABC):
    """One backend started ahead, for a session with ``session_id`` (when it matters)."""

    #: Whether a session that starts on it uses it up (claude: its own process), or only
    #: shares it (a shared server, kept running by holding a use of it).
    used_up_by_start: bool = False

    def __init__(self, session_id: str):
        self.session_id = session_id

    @property
    @abstractmethod
    def alive(self) -> bool:
        """Whether it can still be used."""

    @property
    @abstractmethod
    def pid(self) -> int | None:
        """Its process."""

    @abstractmethod
    async def discard(self) -> None:
        """Let go of it: stop what only it holds (idempotent; nothing once a session took it)."""


class _Server(Protocol):
    @property
    def alive(self) -> bool: ...

    @property
    def pid(self) -> int: ...


class ServerStandby(Standby):
    """Something created ahead on a shared backend server for the session to come (a codex
    thread, an opencode session), holding a use of that server: the session that takes it
    takes the use; letting it go releases the use and what only it holds (:meth:`_forget`)."""

    used_up_by_start = True

    def __init__(
        self,
        session_id: str,
        server: _Server,
        started: tuple[Any, ...],
        registry: MutableMapping[str, Any],
        release: Callable[[], Awaitable[object]],
    ):
        """``started``: what a fresh start with the same settings would create (compared by
        the provider before it hands this out); ``registry``: the provider's standbys by
        session id, left when let go; ``release``: gives the server use back."""
        super().__init__(session_id)
        self.server, self.started = server, started
        self._registry, self._release = registry, release
        self.taken = self._released = False

    @property
    def alive(self) -> bool:
        return (
            not self.taken and not self._released and self.server.alive and running(self.server.pid)
        )

    @property
    def pid(self) -> int | None:
        return self.server.pid

    async def discard(self) -> None:
        if self._registry.get(self.session_id) is self:
            del self._registry[self.session_id]
        if self.taken or self._released:
            return
        self._released = True
        try:
            await self._forget()
        finally:
            await self._release()

    async def _forget(self) -> None:
        """Remove what was created on the server for nobody (nothing, by default)."""


_S = TypeVar("_S", bound=ServerStandby)


async def take_standby(
    registry: MutableMapping[str, _S], session_id: str, started_now: Callable[[], tuple[Any, ...]]
) -> _S | None:
    """The standby created ahead for ``session_id``, taken (its server use is the session's
    now) if it lives and a fresh start would create exactly what it holds: ``started_now()``,
    asked only when there is one, as it resolves the CLI. Otherwise it is let go."""
    standby = registry.pop(session_id, None)
    if standby is None:
        return None
    if standby.alive and standby.started == started_now():
        standby.taken = True
        return standby
    await standby.discard()
    return None
