"""Model server faults, for each provider through its real CLI: each is reported as the right
error kind, and the same session answers from its history afterwards.

How each CLI's own retries are bounded so this stays fast (see caw/testing/README.md):
claude ``CLAUDE_CODE_MAX_RETRIES=0``; codex ``request_max_retries`` / ``stream_max_retries``
= 0 in its model provider block (both set by ``cli_environment(max_retries=0)``); opencode
retries 429/5xx/dropped connections exactly 5 times and is not configurable, but honours
the error answer's ``retry-after-ms`` header (``scripted.retry_after = 0``). A cut stream
carries no such header, so opencode backs off about a minute before it gives up: the CI
size cuts one request (opencode's retry then answers), ``CAW_RELIABILITY=full`` also cuts
every retry.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, cast

import pytest

import caw
from caw import AsyncAgent
from caw.client import RpcError
from caw_server import wire

from .conftest import FULL, PROVIDERS, TURN

if TYPE_CHECKING:
    from caw.providers.process import ChildProcess

pytestmark = [pytest.mark.e2e, pytest.mark.reliability("model-faults")]

# directive -> (the caw error, its kind). Each answer is retried by no CLI here (or instantly).
FAULTS: dict[str, tuple[str, type[caw.CawError], str]] = {
    "http-429": ("[[fail:429]]", caw.ModelError, "modelError"),
    "http-500": ("[[fail:500]]", caw.ModelError, "modelError"),
    "http-529-overloaded": ("[[fail:529]]", caw.ModelError, "modelError"),
    "usage-limit": ("[[usage-limit]]", caw.UsageLimitReached, "usageLimit"),
    "stream-cut": ("[[cut]]", caw.ModelError, "modelError"),
}
HANG_TIMEOUT = 5.0  # seconds; a normal turn takes well under a second
DAEMON_TURN_TIMEOUT = (
    90.0 if FULL else 15.0
)  # applies to every turn; full: past opencode's 1-min back-off
FACT = "My deploy target is staging-eu. Remember that."
RECALL = "Where am I deploying?"
LONG = "Repeat after me: one two three four five six seven eight nine ten"  # long enough to be cut mid-stream


def _faults(provider: str) -> dict[str, tuple[str, type[caw.CawError], str]]:
    if (
        provider == "opencode" and not FULL
    ):  # ~1 min of back-off before opencode gives up on a cut stream
        return {name: spec for name, spec in FAULTS.items() if name != "stream-cut"}
    return FAULTS


async def test_each_fault_is_reported_and_the_session_goes_on(
    provider, cli_env, scripted, leaks, tmp_path, record_property
):
    """One session meets every fault in turn: the right exception and kind each time, then a
    send that answers from the history; each failed turn is recorded, marked failed with its
    kind, in order with the answered ones."""
    faults = _faults(provider)
    scripted.retry_after = 0
    agent = AsyncAgent(provider=provider, env=cli_env(provider), data_dir=tmp_path / "data")
    leaks.data_dir(tmp_path / "data")
    session = await agent.start_session()
    try:
        assert (await session.send(FACT)).result == "Noted: deploy target is staging-eu."
        leaks.handle(session.resume_handle)
        hang: dict[str, tuple[str, type[caw.CawError], str]] = {
            "hang": ("[[hang]]", caw.TurnTimeout, "timeout")
        }
        for name, (directive, error_type, kind) in [*faults.items(), *hang.items()]:
            if name == "hang":
                # AsyncAgent(turn_timeout=...) sets this on every session; only this turn gets it here,
                # so that a slow first turn on a busy machine cannot time out.
                session.turn_timeout = HANG_TIMEOUT
            with pytest.raises(error_type) as caught:
                await asyncio.wait_for(session.send(f"{directive} {LONG}"), TURN)
            session.turn_timeout = None
            leaks.error(caught.value)
            assert caught.value.kind == kind, (name, caught.value)
            if name == "usage-limit":
                assert "usage limit" in str(caught.value).lower()
            if name == "hang":
                assert f"{HANG_TIMEOUT:g} s" in str(caught.value)
            # the same session, the same backend conversation: it answers from the history
            assert (await asyncio.wait_for(session.send(RECALL), TURN)).result == "staging-eu", name
        assert session.session_dir is not None
        stored = caw.Trajectory.model_validate_json(
            (session.session_dir / "trajectory.json").read_text()
        )
        cases = [*faults.items(), *hang.items()]
        assert [t.input for t in stored.turns if t.status == "completed"] == [FACT] + [
            RECALL
        ] * len(cases)
        failed = [t for t in stored.turns if t.status == "failed"]
        assert [t.error.kind for t in failed if t.error] == [kind for _, (_, _, kind) in cases]
    finally:
        await session.end()
    record_property("cases", len(faults) + 1)
    record_property("lost", "nothing: each failed turn is recorded with its error")


async def test_a_dropped_stream_that_the_cli_retries_is_answered_once(
    provider, cli_env, scripted, leaks
):
    """One dropped stream that the CLI retries: the answer is the retry's, without the broken attempt's text.

    claude retries a dropped stream once even with 0 retries; codex gets 1 stream retry here (its
    default is 5); opencode always retries (after 2 s).
    """
    agent = AsyncAgent(
        provider=provider, env=cli_env(provider, max_retries=1 if provider == "codex" else 0)
    )
    session = await agent.start_session()
    try:
        await session.send(FACT)
        leaks.handle(session.resume_handle)
        seen: list[caw.Event] = []
        scripted.cut_next(1)
        turn = await asyncio.wait_for(session.send(LONG, on_event=seen.append), TURN)
        assert turn.result == LONG.removeprefix("Repeat after me: ")
        assert [b.type for b in turn.output] == ["text"]
        assert (await asyncio.wait_for(session.send(RECALL), TURN)).result == "staging-eu"
    finally:
        await session.end()


async def test_every_fault_through_the_daemon(all_env, scripted, leaks, tmp_path, record_property):
    """The same faults through one caw-server serving all three providers at once: each
    session/send answers the documented code and data.kind, and the session answers next."""
    scripted.retry_after = 0
    client = await leaks.daemon(
        tmp_path / "data", all_env, tmp_path, "--turn-timeout", str(DAEMON_TURN_TIMEOUT)
    )

    async def provider_run(provider: str) -> int:
        sid = (await client.start_session(provider=provider))["sessionId"]
        await client.send(sid, FACT)
        cases = [
            (name, directive, kind) for name, (directive, _, kind) in _faults(provider).items()
        ]
        cases.append(("hang", "[[hang]]", "timeout"))
        for name, directive, kind in cases:
            with pytest.raises(RpcError) as caught:
                await client.send(sid, f"{directive} {LONG}")
            assert caught.value.kind == kind, (provider, name, caught.value)
            assert caught.value.code == wire.ERRORS[kind][0], (provider, name, caught.value)
            recalled = await client.send(sid, RECALL)
            assert recalled["turn"]["result"] == "staging-eu", (provider, name)
        stored = json.loads((tmp_path / "data" / "sessions" / sid / "trajectory.json").read_text())
        answered = [t["input"] for t in stored["turns"] if t["status"] == "completed"]
        assert answered == [FACT] + [RECALL] * len(cases)
        failed = [t["error"]["kind"] for t in stored["turns"] if t["status"] == "failed"]
        assert failed == [kind for _, _, kind in cases], provider
        return len(cases)

    try:
        await client.initialize()
        counts = await asyncio.wait_for(
            asyncio.gather(*(provider_run(p) for p in PROVIDERS)), 6 * TURN
        )
    finally:
        await client.aclose()
    record_property("cases", sum(counts))
    record_property("lost", "nothing: each failed turn is recorded with its error")


# claude's wire when a stream breaks after two deltas and claude retries without streaming
# (observed with claude 2.1.332 and [[cut]]; whether the two deltas get out first is a race).
_CLAUDE_RETRIED_STREAM = [
    {"type": "system", "subtype": "init", "session_id": "b55c3f88-cebc-44f4-a214-c8389235c5ce"},
    {"type": "stream_event", "event": {"type": "message_start", "message": {"id": "msg_broken"}}},
    {
        "type": "stream_event",
        "event": {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        },
    },
    {
        "type": "stream_event",
        "event": {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "one "},
        },
    },
    {
        "type": "stream_event",
        "event": {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "two "},
        },
    },
    {"type": "stream_event", "event": {"type": "content_block_stop", "index": 0}},
    {"type": "stream_event", "event": {"type": "message_stop"}},
    {
        "type": "assistant",
        "message": {"id": "msg_retry", "content": [{"type": "text", "text": "one two three"}]},
    },
    {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "result": "one two three",
        "session_id": "b55c3f88-cebc-44f4-a214-c8389235c5ce",
    },
]


class _Replay:
    """Stands in for the claude process: replays recorded stdout lines."""

    alive = True

    def __init__(self, lines):
        self.lines = lines

    async def write_json(self, obj):
        pass

    async def json_lines(self):
        for line in self.lines:
            yield line


@pytest.mark.parametrize(
    "streamed_retry", [False, True], ids=["retry-not-streamed", "retry-streamed"]
)
async def test_claude_drops_the_text_of_a_broken_stream(streamed_retry):
    """Deterministic replay of the race above: the turn holds the retry's answer once."""
    from caw.providers.claude_code import ClaudeConversation
    from caw.turn_assembly import TurnAssembler

    lines = list(_CLAUDE_RETRIED_STREAM)
    if streamed_retry:  # the retry streams too, under a new message id
        retry = [
            {
                "type": "stream_event",
                "event": {"type": "message_start", "message": {"id": "msg_retry"}},
            },
            {
                "type": "stream_event",
                "event": {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "one two "},
                },
            },
            {
                "type": "stream_event",
                "event": {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "three"},
                },
            },
        ]
        lines[7:7] = retry
    turn = caw.Turn(input="Repeat after me: one two three")
    assembler = TurnAssembler(turn)
    events = [
        event
        # the replay stands in for the process: only write_json, json_lines and alive are used
        async for event in ClaudeConversation(cast("ChildProcess", _Replay(lines)), None).send(
            turn.input, lambda record: None
        )
    ]
    for event in events:
        assembler.add(event)
    assembler.finish()
    assert turn.result == "one two three"
    assert [b.type for b in turn.output] == ["text"]
    assert sum(1 for e in events if getattr(e, "replace", False)) == 1
