"""Scenarios shared by the tests of the backends that serve many conversations from one process
(codex app-server, opencode serve)."""

from __future__ import annotations

import asyncio

import pytest

import caw
from tests.support.procs import wait_until


async def wait_for_request(scripted, marker: str, count: int = 1) -> None:
    """Until ``count`` main requests whose last user text contains ``marker`` reached the model."""

    def arrived() -> bool:
        return (
            sum(
                1
                for r in scripted.main_requests()
                if r.user_texts() and marker in r.user_texts()[-1]
            )
            >= count
        )

    await asyncio.to_thread(wait_until, arrived, 30, what=f"{count} request(s) with {marker}")


async def one_hangs_while_another_answers(
    first: caw.AsyncSession, second: caw.AsyncSession, scripted
) -> None:
    """A turn of ``first`` that never ends by itself does not hold up ``second``'s turns on the
    same backend process; cancelling it leaves ``first`` usable."""
    hanging = asyncio.create_task(first.send("[[hang]] Wait forever."))
    await wait_for_request(scripted, "[[hang]]")
    await second.send("My secret word is value-2. Remember that.")
    assert (await second.send("What is my secret word?")).result == "value-2"
    assert not hanging.done()
    assert await first.cancel()
    with pytest.raises(caw.TurnCancelled):
        await asyncio.wait_for(hanging, 30)
    assert first.resume_key != second.resume_key
