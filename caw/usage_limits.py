"""Usage limits: how long to wait, read from each CLI's own message, and the auto-wait switch.

The CLIs say when a limit resets in their own words: claude "resets 3am (UTC)", codex "try
again at 3:47 PM" or "try again in 2 hours 5 minutes", the APIs' ``resets_in_seconds``. A
message that says nothing usable means :data:`DEFAULT_WAIT_MINUTES` (as in caw 0.1.9).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .models import CawModel

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


def auto_wait_default() -> bool:
    """``$CAW_AUTOWAIT``: on unless it is ``0``, ``false``, ``no`` or ``off``."""
    return os.environ.get("CAW_AUTOWAIT", "").strip().lower() not in ("0", "false", "no", "off")


async def sleep_minutes(minutes: float) -> None:
    """The auto-wait sleep (a seam: tests replace it to wait in milliseconds)."""
    await asyncio.sleep(minutes * 60)


class UsageLimitWait(CawModel):
    """Told to a session's watchers when auto-wait starts waiting out a usage limit."""

    kind: str = "usageLimitWait"
    wait_minutes: int
    message: str = ""
