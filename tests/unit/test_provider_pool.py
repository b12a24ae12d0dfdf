"""caw.providers.pool: one shared server per key, refcounted, failures remembered."""

from __future__ import annotations

import asyncio

import pytest

from caw.errors import BackendFailed
from caw.providers.pool import ServerPool


class FakeServer:
    def __init__(self) -> None:
        self.alive = True
        self.stops = 0

    async def stop(self) -> None:
        self.stops += 1
        self.alive = False


class Launcher:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.launched: list[FakeServer] = []

    async def __call__(self) -> FakeServer:
        await asyncio.sleep(0)  # concurrent acquires must wait for this one start
        if self.fail:
            raise BackendFailed("did not start")
        self.launched.append(FakeServer())
        return self.launched[-1]


async def test_one_server_per_key_stopped_with_its_last_user():
    pool: ServerPool[FakeServer] = ServerPool((BackendFailed,))
    launch = Launcher()
    a, b = await asyncio.gather(*(pool.acquire("k", launch, fall_back=True) for _ in range(2)))
    assert a is b and len(launch.launched) == 1
    other = await pool.acquire("other", launch, fall_back=True)
    assert other is not a and len(pool) == 2
    assert a is not None and other is not None
    assert await pool.release(a) is False and a.stops == 0
    assert await pool.release(a) is True and a.stops == 1
    await pool.aclose()
    assert other.stops == 1 and len(pool) == 0


async def test_a_dead_server_is_replaced():
    pool: ServerPool[FakeServer] = ServerPool((BackendFailed,))
    launch = Launcher()
    first = await pool.acquire("k", launch, fall_back=True)
    assert first is not None
    first.alive = False
    second = await pool.acquire("k", launch, fall_back=True)
    assert second is not first and first.stops == 1
    await pool.release(first)  # its old users release it harmlessly
    assert second is not None and second.stops == 0


async def test_a_failed_start_falls_back_until_retry_after():
    pool: ServerPool[FakeServer] = ServerPool((BackendFailed,), retry_after=0.2)
    failing = Launcher(fail=True)
    with pytest.raises(BackendFailed):
        await pool.acquire("k", failing, fall_back=True)
    working = Launcher()
    assert await pool.acquire("k", working, fall_back=True) is None  # remembered
    assert (
        await pool.acquire("k", working, fall_back=False) is not None
    )  # a required server is tried
    await pool.aclose()
    never: ServerPool[FakeServer] = ServerPool((BackendFailed,))  # retry_after: never
    with pytest.raises(BackendFailed):
        await never.acquire("k", failing, fall_back=True)
    assert await never.acquire("k", working, fall_back=True) is None
