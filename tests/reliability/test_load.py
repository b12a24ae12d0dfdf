"""Load: many sessions across the three providers at once in one caw-server, 5 turns each.

Every session queues all its sends at once; they must run strictly in order (each
answer depends on the turns before it) and never mix with another session's (each
session's facts are its own). CI runs ``CAW_LOAD_SESSIONS`` (default 24: 8 per
provider); ``CAW_RELIABILITY=full`` runs the documented 50.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from .conftest import FULL, PROVIDERS, TURN

pytestmark = [pytest.mark.e2e, pytest.mark.reliability("load")]

SESSIONS = int(os.environ.get("CAW_LOAD_SESSIONS") or (50 if FULL else 24))
TURNS = 5


def script(i: int) -> list[tuple[str, str]]:
    """(message, expected answer) for session ``i``: the answers need this session's history, in order."""
    return [
        (f"My color is c{i}x. Remember that.", f"Noted: color is c{i}x."),
        (f"My city is t{i}y. Remember that.", f"Noted: city is t{i}y."),
        (f"Repeat after me: session {i} turn three", f"session {i} turn three"),
        ("What is my city?", f"t{i}y"),
        ("How many messages have I sent?", "5"),
    ]


async def test_many_sessions_at_once(all_env, scripted, leaks, tmp_path, record_property):
    data = tmp_path / "data"
    client = await leaks.daemon(data, all_env, tmp_path)
    began = time.monotonic()
    try:
        await client.initialize()
        starts = await asyncio.wait_for(
            asyncio.gather(
                *(
                    client.start_session(provider=PROVIDERS[i % len(PROVIDERS)])
                    for i in range(SESSIONS)
                )
            ),
            4 * TURN,
        )
        sids = [s["sessionId"] for s in starts]
        assert len(set(sids)) == SESSIONS
        started = time.monotonic()

        async def converse(i: int, sid: str) -> list[dict]:
            pending = [
                client.start_send(sid, message) for message, _ in script(i)
            ]  # all queued at once
            return [answer["turn"] for answer in await asyncio.gather(*(p.future for p in pending))]

        turns = await asyncio.wait_for(
            asyncio.gather(*(converse(i, sid) for i, sid in enumerate(sids))), 10 * TURN
        )
        finished = time.monotonic()
        for i, (sid, got) in enumerate(zip(sids, turns, strict=False)):
            expected = script(i)
            assert [t["input"] for t in got] == [m for m, _ in expected], (
                f"session {i}: turns ran out of order"
            )
            assert [t["index"] for t in got] == list(range(TURNS)), (
                f"session {i}: turns ran out of order"
            )
            assert [t["result"] for t in got] == [a for _, a in expected], (
                f"session {i} ({starts[i]['provider']})"
            )
            streamed = "".join(
                p["update"]["text"]
                for m, p in client.notifications
                if m == "session/update" and p["sessionId"] == sid and p["update"]["kind"] == "text"
            )
            assert streamed == "".join(a for _, a in expected), (
                f"session {i}: its stream carries only its own answers"
            )
            stored = json.loads((data / "sessions" / sid / "trajectory.json").read_text())
            assert [t["result"] for t in stored["turns"]] == [a for _, a in expected]
        await asyncio.gather(*(client.end(sid) for sid in sids))
    finally:
        await client.aclose()
    record_property("cases", SESSIONS * TURNS)
    record_property("load", {"sessions": SESSIONS, "turns_each": TURNS, "start_seconds": round(started - began, 1),
                             "turns_seconds": round(finished - started, 1)})  # fmt: skip
