"""permission_mode="ask" in the library, through each real CLI (offline, scripted model).

A command is asked and, rejected, does not run and the model hears so; allowed once it runs
and is asked again next time; allowed always it runs unasked from then on, also in a new
backend after a resume; an edit is asked with its diff; cancelling a turn with a question
open rejects it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from caw import Agent, AsyncAgent
from caw.errors import TurnCancelled
from caw.permissions import PermissionRequest

from .conftest import touch, write

pytestmark = pytest.mark.e2e


class Answers:
    """on_permission: answers from a script, recording every question."""

    def __init__(self) -> None:
        self.asked: list[PermissionRequest] = []
        self.next: list[str] = []

    def __call__(self, request: PermissionRequest) -> str:
        self.asked.append(request)
        return self.next.pop(0)


def agent(
    provider: str, env: dict[str, str], work: Path, data: Path, answers: Answers
) -> AsyncAgent:
    return AsyncAgent(
        provider, cwd=work, env=env, data_dir=data, permission_mode="ask", on_permission=answers
    )


async def test_reject_once_always_and_resume(provider, cli_env, work, tmp_path, scripted):
    env, data, answers = cli_env(provider), tmp_path / "data", Answers()
    session = await agent(provider, env, work, data, answers).start_session()
    try:
        answers.next = ["reject_once"]
        turn = await session.send(touch("rejected.txt"))
        assert not (work / "rejected.txt").exists()
        assert "reject" in turn.result.lower(), turn.result  # the model was told
        asked = answers.asked[-1]
        assert asked.tool_kind == "execute" and asked.command == "touch rejected.txt"
        assert asked.title == "touch rejected.txt" and asked.session_id == session.session_id

        answers.next = ["allow_once", "allow_once"]
        await session.send(touch("once.txt"))
        assert (work / "once.txt").exists()
        (work / "once.txt").unlink()
        await session.send(touch("once.txt"))  # the same command is asked again
        assert (work / "once.txt").exists() and len(answers.asked) == 3

        answers.next = ["allow_always"]
        await session.send(touch("always.txt"))
        (work / "always.txt").unlink()
        await session.send(touch("always.txt"))  # remembered: runs unasked
        assert (work / "always.txt").exists() and len(answers.asked) == 4
        handle = session.resume_handle
    finally:
        await session.end()  # the backend ends with it: its own session rules are gone

    (work / "always.txt").unlink()
    resumed = await agent(provider, env, work, data, answers).resume_session(handle)
    try:
        await resumed.send(touch("always.txt"))
        assert (work / "always.txt").exists() and len(answers.asked) == 4
        answers.next = ["reject_once"]
        await resumed.send(touch("other.txt"))  # an "always" covers that command only
        assert not (work / "other.txt").exists() and len(answers.asked) == 5
    finally:
        await resumed.end()


def test_edit_is_asked_with_its_diff_and_stream_code_can_answer(provider, cli_env, work, scripted):
    """The sync API: the question arrives in stream() and is answered from the consumer's thread."""
    seen: list[PermissionRequest] = []
    with Agent(
        provider, cwd=work, env=cli_env(provider), permission_mode="ask"
    ).start_session() as session:
        for event in session.stream(write("new.txt", "hello world")):
            if isinstance(event, PermissionRequest):
                seen.append(event)
                event.respond("reject_once")
    assert not (work / "new.txt").exists()
    assert len(seen) == 1, seen
    edit = seen[0]
    assert edit.tool_kind == "edit"
    assert [Path(loc.path).name for loc in edit.locations] == ["new.txt"]
    assert [(Path(d.path).name, d.old_text, d.new_text) for d in edit.diff] == [
        ("new.txt", None, "hello world\n")
    ]
    assert session.last_turn is not None and "reject" in session.last_turn.result.lower()


async def test_cancel_while_a_question_is_open(provider, cli_env, work, tmp_path, scripted):
    session = await AsyncAgent(
        provider, cwd=work, env=cli_env(provider), permission_mode="ask"
    ).start_session()
    asked = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, PermissionRequest):
            asked.set()  # and never answer

    try:
        sending = asyncio.ensure_future(session.send(touch("cancelled.txt"), on_event=on_event))
        await asyncio.wait_for(asked.wait(), 120)
        assert await session.cancel()
        with pytest.raises(TurnCancelled):
            await asyncio.wait_for(sending, 60)
        assert not (work / "cancelled.txt").exists()
        turn = await session.send("Repeat after me: still here")  # the session stays usable
        assert turn.result == "still here"
        # Nobody reads this turn's events and there is no on_permission: rejected, not stuck.
        turn = await asyncio.wait_for(session.send(touch("nobody.txt")), 120)
        assert not (work / "nobody.txt").exists() and "reject" in turn.result.lower()
    finally:
        await session.end()
