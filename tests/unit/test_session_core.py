"""The session core's own logic (ordering, assembly, cancel, timeout, restart, store).

A scripted in-memory Conversation stands in for a backend here: these tests are
about the core, not about any CLI (the e2e tests prove the providers).
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

import caw
from caw.attachments import ResourceLink
from caw.events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from caw.models import Usage
from caw.providers.base import Conversation, ConversationOptions, Provider
from caw.session import AsyncSession
from caw.store import Store
from caw.turn_assembly import TurnAssembler


class FakeConversation(Conversation):
    def __init__(self, provider: FakeProvider, key: str):
        self.provider = provider
        self.resume_key = key
        self._alive = True
        self._interrupt = asyncio.Event()

    @property
    def alive(self) -> bool:
        return self._alive

    async def send(self, text, raw):
        self.provider.log.append(text)
        raw({"echo": text})
        if "die" in text:
            self._alive = False
            raise caw.BackendFailed("fake backend died", exit_code=-9)
        if "slow" in text:
            yield TextDelta(text="partial")
            await self._interrupt.wait()  # runs until interrupted
            self._interrupt.clear()
            return
        yield ThinkingDelta(text="hmm")
        for word in f"echo: {text}".split(" "):
            yield TextDelta(text=word + " ")
        yield UsageUpdate(usage=Usage(input_tokens=2, output_tokens=3))

    async def interrupt(self):
        self._interrupt.set()

    async def close(self):
        self._alive = False
        self.provider.closed += 1


class FakeProvider(Provider):
    name = "claude_code"
    cli = "fake"
    npm_package = "fake"

    def __init__(self):
        self.log: list[str] = []
        self.started = self.resumed = self.closed = 0

    async def start(self, options):
        self.started += 1
        return FakeConversation(self, "key-1")

    async def resume(self, resume_key, options):
        self.resumed += 1
        return FakeConversation(self, resume_key)


def make_session(tmp_path=None, **kw) -> tuple[AsyncSession, FakeProvider]:
    provider = FakeProvider()
    sdir = Store(tmp_path).create("s1") if tmp_path else None
    session = AsyncSession(
        provider=provider,
        options=ConversationOptions(session_id="s1", cwd=os.getcwd()),
        trajectory=caw.Trajectory(agent="claude_code", session_id="s1"),
        session_dir=sdir,
        **kw,
    )
    return session, provider


def test_assembler_folds_deltas_and_attaches_tool_results():
    turn = caw.Turn(input="x")
    asm = TurnAssembler(turn)
    events: list[Event] = [
        ThinkingDelta(text="a"), ThinkingDelta(text="b"), TextDelta(text="Let me "), TextDelta(text="look."),
        ToolCall(id="t1", name="Bash", input={"command": "ls"}), ToolResult(id="t1", output="file", is_error=False),
        TextDelta(text="Done."), UsageUpdate(usage=Usage(output_tokens=5)),
    ]  # fmt: skip
    for event in events:
        asm.add(event)
    asm.finish()
    kinds = [(b.type, getattr(b, "text", None)) for b in turn.output]
    assert kinds == [
        ("thinking", "ab"),
        ("text", "Let me look."),
        ("tool_use", None),
        ("text", "Done."),
    ]
    tool = turn.output[2]
    assert isinstance(tool, caw.ToolUseBlock) and tool.output == "file"
    assert turn.result == "Done." and turn.usage.output_tokens == 5


async def test_turns_are_recorded_and_the_handle_appears_after_the_first_send(tmp_path):
    session, _ = make_session(tmp_path)
    with pytest.raises(caw.NoHandleYet, match="send a message first"):
        _ = session.resume_handle
    await session.open_backend()
    turn = await session.send("hello")
    assert turn.result.strip() == "echo: hello" and turn.usage.total_tokens == 5
    assert json.loads(session.resume_handle)["resume_key"] == "key-1"
    on_disk = caw.Trajectory.model_validate_json(
        (tmp_path / "sessions/s1/trajectory.json").read_text()
    )
    assert on_disk.num_turns == 1  # on disk when the answer is returned
    await session.flush()  # the raw lines and the log line follow it (caw.recorder)
    assert json.loads((tmp_path / "sessions/s1/turns/001_raw_output.jsonl").read_text()) == {
        "echo": "hello"
    }
    log = [
        json.loads(line)["type"]
        for line in (tmp_path / "sessions/s1/traj.jsonl").read_text().splitlines()
    ]
    assert log == ["turn_start", "turn_end"]
    assert session.resume_handle not in (tmp_path / "sessions/s1/traj.jsonl").read_text()


async def test_sends_to_one_session_run_in_order():
    session, provider = make_session()
    results = await asyncio.gather(*(session.send(f"m{i}") for i in range(5)))
    assert provider.log == [f"m{i}" for i in range(5)]
    assert [t.input for t in results] == [f"m{i}" for i in range(5)]
    assert [t.index for t in session.trajectory.turns] == list(range(5))


async def test_cancel_keeps_the_partial_turn_and_the_session():
    session, _ = make_session()
    seen = asyncio.Event()
    task = asyncio.create_task(session.send("slow", on_event=lambda e: seen.set()))
    await seen.wait()
    assert await session.cancel()
    with pytest.raises(caw.TurnCancelled) as caught:
        await task
    assert caught.value.turn.stop_reason == "cancelled" and caught.value.turn.result == "partial"
    assert (await session.send("again")).result.strip() == "echo: again"
    assert not await session.cancel()  # nothing runs now


async def cancel_a_slow_send(session) -> None:
    """Sends "slow", and cancels the task once the turn has streamed something."""
    seen = asyncio.Event()
    task = asyncio.create_task(session.send("slow", on_event=lambda e: seen.set()))
    await seen.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_task_cancellation_interrupts_the_backend():
    session, provider = make_session()
    await cancel_a_slow_send(session)
    assert (await session.send("after")).result.strip() == "echo: after"
    assert provider.closed == 0  # interrupted, not killed


async def test_timeout_ends_the_turn_and_the_session_stays_usable():
    session, _ = make_session(turn_timeout=0.2)
    with pytest.raises(caw.TurnTimeout, match=r"within 0\.2 s"):
        await session.send("slow")
    assert (await session.send("fine")).result.strip() == "echo: fine"


async def test_a_dead_backend_is_resumed_by_key_on_the_next_send():
    session, provider = make_session()
    await session.send("first")
    with pytest.raises(caw.BackendFailed, match="died"):
        await session.send("die now")
    assert (await session.send("next")).result.strip() == "echo: next"
    assert provider.started == 1 and provider.resumed == 1
    # the failed turn is recorded in its place, marked failed with its error
    assert [t.status for t in session.trajectory.turns] == ["completed", "failed", "completed"]
    failed = session.trajectory.turns[1]
    assert failed.error is not None and failed.error.kind == "backendFailed"
    assert "died" in failed.error.message and failed.input == "die now"


async def test_a_failing_disk_costs_a_warning_not_the_answer(tmp_path, monkeypatch):
    session, _ = make_session(tmp_path)
    await session.send("one")
    before = (tmp_path / "sessions/s1/trajectory.json").read_text()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("caw.store.os.replace", disk_full)
    monkeypatch.setattr("caw.store.os.open", disk_full)
    turn = await session.send("two")
    assert turn.result.strip() == "echo: two"
    assert any("No space left on device" in w and "trajectory.json" in w for w in turn.warnings), (
        turn.warnings
    )
    assert (tmp_path / "sessions/s1/trajectory.json").read_text() == before


async def test_release_and_end():
    session, provider = make_session()
    await session.send("one")
    await session.release_backend()
    assert not session.live
    assert (await session.send("two")).result.strip() == "echo: two"
    assert provider.resumed == 1
    trajectory = await session.end()
    assert trajectory.completed_at is not None and trajectory.num_turns == 2
    with pytest.raises(caw.SessionClosed):
        await session.send("three")
    assert await session.end() is trajectory  # idempotent


async def test_empty_messages_are_refused():
    session, _ = make_session()
    with pytest.raises(ValueError, match="non-empty"):
        await session.send("  ")


async def test_attachments_reach_the_backend_and_the_turn_records_them(tmp_path):
    session, provider = make_session(tmp_path / "data")
    notes = tmp_path / "notes.txt"
    notes.write_text("one\ntwo\nthree\n")
    link = ResourceLink(type="resource_link", uri=f"{notes.as_uri()}#L2-L2", name="notes")
    turn = await session.send("look", attachments=[link])
    assert provider.log[-1] == f'look\n\n<context ref="{link.uri}">\ntwo\n</context>'
    assert turn.input == "look" and [a.name for a in turn.attachments] == ["notes"]
    stored = (tmp_path / "data/sessions/s1/trajectory.json").read_text()
    assert '"attachments"' in stored and "three" not in stored
    assert session.trajectory.title == "look"
    # a bad one is refused before the turn: nothing sent, nothing recorded
    gone = ResourceLink(type="resource_link", uri=(tmp_path / "gone.txt").as_uri())
    with pytest.raises(caw.InvalidAttachment, match=r"gone\.txt"):
        await session.send("again", attachments=[gone])
    assert len(provider.log) == 1 and session.trajectory.num_turns == 1


async def test_a_cancelled_request_is_recorded_as_a_cancelled_turn():
    session, _ = make_session()
    await cancel_a_slow_send(session)
    (turn,) = session.trajectory.turns
    assert turn.status == "cancelled" and turn.result == "partial" and turn.error is None
