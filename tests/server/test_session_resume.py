"""session/resume of a bare id whose live session ends while the resume waits for the session's
attach lock: the answer is unknownSession (it used to be an internal error, ``None.encode()``)."""

from __future__ import annotations

import asyncio
from typing import Any, Literal, cast

import pytest

from caw import AsyncSession, UnknownSession
from caw_server import wire

from .inprocess import Daemon


class _Live:
    """Just enough of a live session for the registry."""

    session_id = "1b6f0c9e-3c55-4a59-9a43-3a1f4b1f7b1e"


class _ObservedLock(asyncio.Lock):
    def __init__(self) -> None:
        super().__init__()
        self.contended = asyncio.Event()

    async def acquire(self) -> Literal[True]:
        if self.locked():
            self.contended.set()
        return await super().acquire()


async def test_a_live_session_that_ends_during_resume_is_unknown_not_internal(
    daemon: Daemon, monkeypatch: Any
):
    registry = daemon.server.registry
    live = cast(AsyncSession, _Live())
    registry.add(live)
    lock = _ObservedLock()
    monkeypatch.setattr(registry, "attach_lock", lambda session_id: lock)
    await lock.acquire()  # another attach of this session is under way
    resume = asyncio.ensure_future(
        daemon.server.session_resume(wire.ResumeParams(session_id=live.session_id))
    )
    await asyncio.wait_for(lock.contended.wait(), 10)
    registry.pop(live.session_id)  # meanwhile, session/end
    lock.release()
    with pytest.raises(UnknownSession, match="no data dir"):
        await asyncio.wait_for(resume, 10)


async def test_the_race_answers_unknown_session_on_the_wire(daemon: Daemon, monkeypatch: Any):
    registry = daemon.server.registry
    live = cast(AsyncSession, _Live())
    registry.add(live)
    lock = _ObservedLock()
    monkeypatch.setattr(registry, "attach_lock", lambda session_id: lock)
    await lock.acquire()
    resume = {"sessionId": live.session_id}
    daemon.send({"jsonrpc": "2.0", "id": "res", "method": "session/resume", "params": resume})
    await asyncio.wait_for(lock.contended.wait(), 10)
    registry.pop(live.session_id)
    lock.release()
    answer = await daemon.out.next_message()
    assert answer["id"] == "res"
    assert answer["error"]["data"]["kind"] == "unknownSession"
