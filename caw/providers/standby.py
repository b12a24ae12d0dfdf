"""Backends started ahead of the session that will use them (issue 20: a warm first answer).

``Provider.prestart(options)`` starts what ``Provider.start(options)`` would start
and returns a :class:`Standby`; a later ``start`` with the same options (and, for
claude, the standby's session id) uses it. caw-server keeps a few of them
(``caw_server.standby``); a standby never differs from a fresh start: the
provider uses one only when what it would start now is exactly what the standby
runs (command line, environment, working directory), and only while it lives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


def running(pid: int | None) -> bool:
    """Whether process ``pid`` still runs, as the system sees it: a standby killed a moment
    ago is a zombie until asyncio reaps it, and must not be handed out meanwhile."""
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except (OSError, IndexError):  # no /proc (not Linux): what the process object says
        return True
    return state not in ("Z", "X")


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
