"""claude's warm-up (caw/providers/claude_code/warm_up.py), against the real CLI: a process
started ahead (a standby, a resume before its first send) answers read-only control
requests before its first turn, building its system prompt and tool schemas ahead, and its
session is exactly a fresh one's: no request to the API (model or count_tokens), nothing in
its transcript, after the first turn the same transcript and the same first request to the
model as a fresh process's, and a resume that recalls."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

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


# What differs between any two sessions' records of the same turn: ids and clock readings.
ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(msg|req|toolu)_\w+")
CLOCK = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z")
CLOCK_KEYS = {"timestamp", "sentAtMs", "startTime", "durationMs", "duration_ms"}
# Rows claude appends again on its own timing (two or one of each, in fresh sessions too).
REPEATED_METADATA = {"last-prompt", "atis-latch"}


def same_but_ids(value: Any) -> Any:
    """``value`` with session, message and request ids and clock readings blanked."""
    if isinstance(value, dict):
        return {
            key: same_but_ids(item)
            for key, item in value.items()
            if key not in CLOCK_KEYS and "Duration" not in key
        }
    if isinstance(value, list):
        return [same_but_ids(item) for item in value]
    if isinstance(value, str):
        return CLOCK.sub("CLOCK", ID.sub("ID", value))
    return value


def transcript_after_turns(home: str, session_id: str) -> list[dict]:
    return [
        same_but_ids(row)
        for row in transcript_rows(home, session_id)
        if row.get("type") not in REPEATED_METADATA
    ]


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
    assert await standby.warm_up.wait(TURN)  # claude answered the warm-up requests
    assert scripted.requests == []  # without asking the API anything (nor count_tokens) ...
    # ... it built the first request's system prompt and tool schemas, to count them.
    usage = standby.warm_up.answers[-1].get("response") or {}
    counted = {category["id"]: category["tokens"] for category in usage.get("categories", [])}
    assert counted.get("system_prompt", 0) > 0 and counted.get("system_tools", 0) > 0
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
        assert same_but_ids(adopted_first.body) == same_but_ids(fresh_first.body)
        assert adopted_first.user_texts() == ["My code word is plum."]
        handle, fresh_id = adopted.resume_handle, fresh.resume_key
        assert fresh_id is not None
    finally:
        await adopted.end()
        await fresh.end()
    # The warmed session's transcript is the fresh one's, row for row.
    assert transcript_after_turns(env["HOME"], standby.session_id) == transcript_after_turns(
        env["HOME"], fresh_id
    )

    # A resume started ahead of its first send is warmed too, and still recalls.
    resumed = await agent.resume_session(handle)
    try:
        conversation = resumed._conversation
        assert isinstance(conversation, ClaudeConversation) and conversation.warm_up is not None
        asked = len(scripted.requests)
        assert await conversation.warm_up.wait(TURN)
        assert len(scripted.requests) == asked  # a resumed session's warm-up asks nothing either
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
