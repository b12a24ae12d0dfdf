"""caw.usage_limits.UsageLimitWaiter, the one auto-wait behind the library and the daemon: it
tells, waits, lets the turn be sent again, keeps sends in order and can be cancelled."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

import caw.usage_limits as usage_limits
from caw.errors import TurnCancelled, UsageLimitReached
from caw.models import utcnow
from caw.usage_limits import UsageLimitWait, UsageLimitWaiter

LIMIT = "You've hit your usage limit. Try again in 2 hours."


@pytest.fixture
def slept(monkeypatch):
    minutes: list[float] = []

    async def fake_sleep(m: float) -> None:
        minutes.append(m)

    monkeypatch.setattr(usage_limits, "sleep_minutes", fake_sleep)
    return minutes


async def test_send_waits_out_the_limit_then_sends_again(slept):
    told: list[UsageLimitWait] = []
    attempts = []

    async def send() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise UsageLimitReached(LIMIT)
        return "answered"

    assert await UsageLimitWaiter().send(send, told.append) == "answered"
    assert len(attempts) == 2 and slept == [120]
    [event] = told
    assert (event.kind, event.wait_minutes, event.message) == ("usageLimitWait", 120, LIMIT)
    assert abs(event.resets_at - (utcnow() + timedelta(minutes=120))) < timedelta(seconds=30)


async def test_cancel_ends_a_wait():
    waiter = UsageLimitWaiter()
    told = asyncio.Event()
    waiting = asyncio.create_task(
        waiter.wait(UsageLimitReached(LIMIT), lambda event: told.set())
    )  # a real sleep: two hours
    await asyncio.wait_for(told.wait(), 5)
    assert waiter.waiting
    assert waiter.cancel() is True
    with pytest.raises(TurnCancelled):
        await asyncio.wait_for(waiting, 5)
    assert not waiter.waiting and waiter.cancel() is False


async def test_sends_run_in_call_order_across_a_wait(slept):
    waiter = UsageLimitWaiter()
    order: list[str] = []
    limited = [True]

    async def send(name: str) -> str:
        if name == "first" and limited[0]:
            limited[0] = False
            raise UsageLimitReached(LIMIT)
        order.append(name)
        return name

    first = asyncio.create_task(waiter.send(lambda: send("first"), None))
    await asyncio.sleep(0)
    second = asyncio.create_task(waiter.send(lambda: send("second"), None))
    assert await asyncio.gather(first, second) == ["first", "second"]
    assert order == ["first", "second"]


def test_caw_autowait_setting(monkeypatch):
    for value, expected in [("", None), ("0", False), ("off", False), ("1", True), ("yes", True)]:
        monkeypatch.setenv("CAW_AUTOWAIT", value)
        assert usage_limits.auto_wait_setting() is expected
        assert usage_limits.auto_wait_default() is (expected is not False)
