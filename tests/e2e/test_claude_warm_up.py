"""claude's warm-up (caw/providers/claude_code/warm_up.py), against the real CLI: a process
started ahead (a standby, a resume before its first send) answers one read-only control
request before its first turn, and its session is exactly a fresh one's: no model request,
nothing in its transcript, the same first request to the model, and a resume that recalls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caw import AsyncAgent
from caw.providers.claude_code import ClaudeConversation, ClaudeStandby

pytestmark = pytest.mark.e2e

TURN = 120.0  # seconds: a generous bound for claude's start and one turn on a busy machine


def transcript_rows(home: str, session_id: str) -> list[dict]:
    """The rows of claude's transcript of ``session_id`` (none before it was written)."""
    rows: list[dict] = []
    for path in Path(home, ".claude", "projects").glob(f"*/{session_id}.jsonl"):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def first_request_shape(request) -> tuple:
    """What the model is asked in a session's first request, less what names the session."""
    body = request.body
    tools = sorted(tool.get("name", "") for tool in body.get("tools") or [])
    return len(request.messages), request.user_texts(), tools, request.system


async def test_a_warmed_standby_starts_the_session_a_fresh_start_would(
    require_cli, cli_env, scripted, tmp_path
):
    require_cli("claude_code")
    env = cli_env("claude_code")
    agent = AsyncAgent("claude_code", env=env, cwd=tmp_path, permission_mode="bypass")

    standby = await agent.prestart()
    assert isinstance(standby, ClaudeStandby)
    assert await standby.warm_up.wait(TURN)  # claude answered the warm-up request
    assert scripted.requests == []  # without asking the model anything
    assert not [
        row for row in transcript_rows(env["HOME"], standby.session_id) if row.get("message")
    ]

    adopted = await agent.start_session(session_id=standby.session_id)
    fresh = await agent.start_session()
    try:
        conversation = adopted._conversation
        assert isinstance(conversation, ClaudeConversation)
        assert conversation.process is standby.process  # the standby was adopted
        assert (await adopted.send("My code word is plum.")).result == "Noted: code word is plum."
        adopted_first = scripted.main_requests()[-1]
        assert (await fresh.send("My code word is plum.")).result == "Noted: code word is plum."
        fresh_first = scripted.main_requests()[-1]
        assert adopted.resume_key == standby.session_id  # its session id, unchanged
        assert first_request_shape(adopted_first) == first_request_shape(fresh_first)
        assert adopted_first.user_texts() == ["My code word is plum."]
        handle = adopted.resume_handle
    finally:
        await adopted.end()
        await fresh.end()

    # A resume started ahead of its first send is warmed too, and still recalls.
    resumed = await agent.resume_session(handle)
    try:
        conversation = resumed._conversation
        assert isinstance(conversation, ClaudeConversation) and conversation.warm_up is not None
        assert await conversation.warm_up.wait(TURN)
        answer = await resumed.send("What is my code word?")
        assert answer.result == "plum"
        assert scripted.main_requests()[-1].user_texts() == [
            "My code word is plum.",
            "What is my code word?",
        ]
    finally:
        await resumed.end()


async def test_a_send_before_the_warm_up_is_answered_still_gets_its_answer(
    require_cli, cli_env, scripted, tmp_path
):
    """The first send may come while claude is still starting (here at once: claude takes
    half a second to start): the warm-up's answer, read by the conversation then, is skipped."""
    require_cli("claude_code")
    agent = AsyncAgent(
        "claude_code", env=cli_env("claude_code"), cwd=tmp_path, permission_mode="bypass"
    )
    standby = await agent.prestart()
    assert isinstance(standby, ClaudeStandby)
    session = await agent.start_session(session_id=standby.session_id)
    try:
        assert (await session.send("Repeat after me: early")).result == "early"
        assert (await session.send("Repeat after me: next")).result == "next"
    finally:
        await session.end()
