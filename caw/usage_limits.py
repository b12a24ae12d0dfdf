"""Usage limits: how long to wait, read from each CLI's own message, and the auto-wait switch.

The CLIs say when a limit resets in their own words: claude "resets 3am (UTC)", codex "try
again at 3:47 PM" or "try again in 2 hours 5 minutes", the APIs' ``resets_in_seconds``. A
message that says nothing usable means :data:`DEFAULT_WAIT_MINUTES` (as in caw 0.1.9).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import TurnCancelled, UsageLimitReached
from .events import UsageLimitWait
from .models import utcnow

if TYPE_CHECKING:
    from .models import Turn
    from .session import AsyncSession, EventCallback

__all__ = [
    "DEFAULT_WAIT_MINUTES",
    "AutoWaitSession",
    "UsageLimitWait",
    "UsageLimitWaiter",
    "auto_wait_default",
    "auto_wait_setting",
    "sleep_minutes",
    "wait_minutes_from_message",
]

log = logging.getLogger("caw.usage_limits")

DEFAULT_WAIT_MINUTES = 60
#: Minutes added to a parsed reset time, so the retry lands after the reset, not on it.
MARGIN_MINUTES = 5

_CLAUDE_RESET = re.compile(r"resets\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)\s*(?:\(([^)]+)\))?", re.I)
_CLOCK_RESET = re.compile(r"try again at\s+(\d{1,2}):(\d{2})\s*(am|pm)?", re.I)
_SECONDS = re.compile(r"resets?_in_seconds\W+(\d+)", re.I)
_DURATION = re.compile(
    r"(?:try again|resets?)\s+in\s+((?:\d+\s*(?:days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b[\s,and]*)+)",
    re.I,
)
_PART = re.compile(r"(\d+)\s*(d|h|m|s)", re.I)
_UNIT_MINUTES = {"d": 1440.0, "h": 60.0, "m": 1.0, "s": 1 / 60}


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None  # local time
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc if name.strip().upper() in ("UTC", "GMT") else None


def _minutes_until(
    hour: int, minute: int, ampm: str | None, zone: tzinfo | None, now: datetime
) -> int:
    if ampm:
        hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
    local_now = now.astimezone(zone) if zone else now.astimezone()
    reset = local_now.replace(hour=hour % 24, minute=minute, second=0, microsecond=0)
    if reset <= local_now:
        reset += timedelta(days=1)
    return max(1, int((reset - local_now).total_seconds() // 60) + MARGIN_MINUTES)


def wait_minutes_from_message(text: str, now: datetime | None = None) -> int | None:
    """Minutes until the limit the message describes resets, or None if it names no time."""
    now = now or datetime.now(timezone.utc)
    if m := _SECONDS.search(text):
        return max(1, -(-int(m.group(1)) // 60))
    if m := _DURATION.search(text):
        total = sum(int(n) * _UNIT_MINUTES[u.lower()] for n, u in _PART.findall(m.group(1)))
        if total > 0:
            return max(1, int(total + 0.999))
    if m := _CLOCK_RESET.search(text):
        return _minutes_until(int(m.group(1)), int(m.group(2)), m.group(3), None, now)
    if m := _CLAUDE_RESET.search(text):
        return _minutes_until(
            int(m.group(1)), int(m.group(2) or 0), m.group(3), _zone(m.group(4)), now
        )
    return None


def auto_wait_setting() -> bool | None:
    """``$CAW_AUTOWAIT`` as given: False for ``0``, ``false``, ``no`` or ``off``, True for any
    other value, None when it is unset or empty."""
    value = os.environ.get("CAW_AUTOWAIT", "").strip().lower()
    if not value:
        return None
    return value not in ("0", "false", "no", "off")


def auto_wait_default() -> bool:
    """``$CAW_AUTOWAIT``: on unless it is ``0``, ``false``, ``no`` or ``off`` (the library's
    default, as in caw 0.1.9)."""
    return auto_wait_setting() is not False


async def sleep_minutes(minutes: float) -> None:
    """The auto-wait sleep (a seam: tests replace it to wait in milliseconds)."""
    await asyncio.sleep(minutes * 60)


_T = TypeVar("_T")


class UsageLimitWaiter:
    """Auto-wait for one conversation, the one implementation behind the library and the daemon.

    On a usage limit it tells the session's watchers (a :class:`~caw.events.UsageLimitWait`
    event), logs, sleeps until the reset time the CLI named and lets the caller send the turn
    again. Turns sent through :meth:`send` run one at a time in call order, also across waits;
    :meth:`cancel` ends a wait early (the send raises TurnCancelled)."""

    def __init__(self) -> None:
        self._order: asyncio.Lock | None = None
        self._stop: asyncio.Event | None = None

    @property
    def waiting(self) -> bool:
        return self._stop is not None

    @property
    def busy(self) -> bool:
        """A turn sent through this waiter is running, waiting, or queued."""
        return self._order is not None and self._order.locked()

    async def send(
        self, send: Callable[[], Awaitable[_T]], tell: Callable[[Any], Any] | None
    ) -> _T:
        """``send()`` until it is not stopped by a usage limit, waiting out each one."""
        if self._order is None:
            self._order = asyncio.Lock()
        async with self._order:
            while True:
                try:
                    return await send()
                except UsageLimitReached as exc:
                    await self.wait(exc, tell)

    async def wait(self, exc: UsageLimitReached, tell: Callable[[Any], Any] | None) -> None:
        """Wait out the limit ``exc`` reports; raises TurnCancelled if :meth:`cancel` ends it."""
        minutes = exc.wait_minutes
        event = UsageLimitWait(
            wait_minutes=minutes,
            resets_at=utcnow() + timedelta(minutes=minutes),
            message=str(exc),
        )
        log.warning(
            "usage limit reached; waiting %s min (until %s UTC) for it to reset, then sending again",
            minutes,
            f"{event.resets_at:%H:%M}",
        )
        self._stop = stop = asyncio.Event()
        try:
            if tell is not None:
                told = tell(event)
                if inspect.isawaitable(told):
                    await told
            sleeping = asyncio.ensure_future(sleep_minutes(minutes))
            stopped = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({sleeping, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeping.cancel()
                stopped.cancel()
        finally:
            self._stop = None
        if stop.is_set():
            raise TurnCancelled("cancelled while waiting for the usage limit to reset")

    def cancel(self) -> bool:
        """End a wait in progress (on the waiter's event loop). False if none is."""
        if self._stop is None:
            return False
        self._stop.set()
        return True


class AutoWaitSession:
    """``session.send`` through a :class:`UsageLimitWaiter` (what the daemon sends turns with
    when auto-wait is on); the same ``send`` signature as the session's."""

    def __init__(self, session: AsyncSession, waiter: UsageLimitWaiter):
        self.session, self.waiter = session, waiter

    @property
    def provider_name(self) -> str:
        return self.session.provider_name

    async def cancel(self) -> bool:
        """End a wait in progress, else stop the running turn. False if neither runs."""
        return self.waiter.cancel() or await self.session.cancel()

    async def send(
        self, message: str, on_event: EventCallback | None = None, **options: Any
    ) -> Turn:
        return await self.waiter.send(
            lambda: self.session.send(message, on_event, **options), on_event
        )
