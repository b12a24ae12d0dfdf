"""``caw acp`` through the official Python SDK's client, for every provider's real CLI.

The editor's whole day: initialize, a new session, a fact, streamed chunks and a tool
call, a cancelled slow prompt, ``caw acp`` killed with SIGKILL (no backend survives it),
a new ``caw acp`` that lists the session, loads it (the history is replayed) and answers
from the fact; a backend killed mid-turn; permission questions answered by the editor.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest
from acp import RequestError

from caw.providers import provider_class
from tests.support.procs import alive, descendants, wait_until

from .conftest import TURN, Editor, caw_acp, prompt, stream_the_fact_slowly, text_block

pytestmark = pytest.mark.e2e


def backends(pid: int, provider: str) -> dict[int, str]:
    cli = provider_class(provider).cli
    return {p: cmd for p, cmd in descendants(pid).items() if cli in cmd}


def secrets_of(data: Path, sid: str) -> list[str]:
    handle = json.loads((data / "sessions" / sid / "handle.json").read_text())
    key = handle["resume_key"]
    return [key] if key != sid else []


async def test_editor_flow_survives_kill_9(provider, cli_env, scripted, work, tmp_path):
    env, data, log = cli_env(provider), tmp_path / "data", tmp_path / "caw-acp.log"
    flags = ("--provider", provider, "--data-dir", str(data), "--log-level", "debug")
    stream_the_fact_slowly(scripted, data)
    editor = Editor()
    async with caw_acp(editor, env, work, *flags, stderr=log) as (conn, proc):
        new = await conn.new_session(cwd=str(work), mcp_servers=[])
        sid = new.session_id
        options = {o.id: o for o in new.config_options or []}
        assert options["provider"].current_value == provider
        assert set(options) == {"provider", "model", "permission_mode"}
        assert options["permission_mode"].current_value == "ask"
        assert options["model"].category == "model"

        # a fact, streamed as chunks
        assert (
            await prompt(conn, sid, text_block("My deploy target is staging-eu. Remember that."))
            == "end_turn"
        )
        assert editor.text() == "Noted: deploy target is staging-eu."
        assert len(editor.of("agent_message_chunk")) > 1  # streamed, not one block
        assert editor.of("usage_update")[-1].used > 0

        # a tool call: kind, title, raw input, then the result on the same id
        mark = len(editor.updates)
        assert (
            await prompt(conn, sid, text_block("[[tool:bash:echo acp-tool-ran]] go")) == "end_turn"
        )
        (start,) = editor.of("tool_call", mark)
        assert (start.kind, start.status) == ("execute", "in_progress")
        assert "echo acp-tool-ran" in start.title and start.raw_input
        done = [
            u for u in editor.of("tool_call_update", mark) if u.tool_call_id == start.tool_call_id
        ]
        assert done and done[-1].status == "completed"
        assert "acp-tool-ran" in json.dumps(done[-1].raw_output)
        assert "acp-tool-ran" in editor.text(since=mark)  # "Tool said: acp-tool-ran"

        # cancel of a slow prompt: the prompt answers cancelled
        mark = len(editor.updates)
        slow = asyncio.ensure_future(
            conn.prompt(session_id=sid, prompt=[text_block("[[slow:30]] Tell me a long story.")])
        )
        await editor.wait_for("agent_message_chunk", mark)
        await conn.cancel(session_id=sid)
        assert (await asyncio.wait_for(slow, 40)).stop_reason == "cancelled"

        # kill -9: no backend outlives caw acp
        running = backends(proc.pid, provider)
        assert running, "a backend runs for the open session"
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        wait_until(
            lambda: not any(alive(p) for p in running),
            timeout=30,
            what="the backends to die with caw acp",
        )

    # a new caw acp: list, load (replayed), the next prompt continues the conversation
    editor = Editor()
    async with caw_acp(editor, env, work, *flags, stderr=log) as (conn, proc):
        listed = (await conn.list_sessions(cwd=str(work))).sessions
        assert [s.session_id for s in listed] == [sid]
        assert listed[0].title == "My deploy target is staging-eu. Remember that."
        assert (await conn.list_sessions(cwd=str(tmp_path))).sessions == []  # filtered by cwd

        await asyncio.wait_for(
            conn.load_session(cwd=str(work), session_id=sid, mcp_servers=[]), TURN
        )
        users = [u.content.text for u in editor.of("user_message_chunk")]
        assert users[:2] == [
            "My deploy target is staging-eu. Remember that.",
            "[[tool:bash:echo acp-tool-ran]] go",
        ]
        assert "Noted: deploy target is staging-eu." in editor.text()
        replayed = editor.of("tool_call")
        assert (
            replayed
            and "echo acp-tool-ran" in replayed[0].title
            and replayed[0].status == "completed"
        )

        mark = len(editor.updates)
        assert await prompt(conn, sid, text_block("Where am I deploying?")) == "end_turn"
        assert editor.text(since=mark) == "staging-eu"
        assert any("staging-eu" in t for t in scripted.main_requests()[-1].user_texts()[:-1])
        await conn.close_session(session_id=sid)
        with pytest.raises(RequestError) as closed:
            await conn.prompt(session_id=sid, prompt=[text_block("still there?")])
        assert closed.value.code == -32002

    logged = log.read_text()
    assert "caw acp" in logged  # debug logging was on: the check below means something
    for secret in secrets_of(data, sid):
        assert secret not in logged


async def test_backend_killed_mid_turn_then_the_next_prompt_resumes(
    provider, cli_env, scripted, work, tmp_path
):
    env, data, log = cli_env(provider), tmp_path / "data", tmp_path / "caw-acp.log"
    editor = Editor()
    flags = (
        "--provider",
        provider,
        "--data-dir",
        str(data),
        "--permission-mode",
        "bypass",
        "--log-level",
        "debug",
    )
    async with caw_acp(editor, env, work, *flags, stderr=log) as (conn, proc):
        sid = (await conn.new_session(cwd=str(work), mcp_servers=[])).session_id
        assert (
            await prompt(conn, sid, text_block("My pet is a heron. Remember that.")) == "end_turn"
        )
        mark = len(editor.updates)
        slow = asyncio.ensure_future(
            conn.prompt(session_id=sid, prompt=[text_block("[[slow:30]] A long story.")])
        )
        await editor.wait_for("agent_message_chunk", mark)
        for pid in backends(proc.pid, provider):
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(RequestError) as failed:
            await asyncio.wait_for(slow, TURN)
        assert failed.value.code == -32603 and str(failed.value)  # a clear error, not a hang
        mark = len(editor.updates)
        assert await prompt(conn, sid, text_block("What is my pet?")) == "end_turn"
        assert editor.text(since=mark) == "a heron"
    for secret in secrets_of(data, sid):
        assert secret not in log.read_text()


async def test_thoughts_and_file_edits_stream_and_replay(
    provider, cli_env, scripted, work, tmp_path
):
    """agent_thought_chunk, and an edit's tool call with kind edit and its file location; both
    come back in the replay of session/load."""
    env, data, log = cli_env(provider), tmp_path / "data", tmp_path / "caw-acp.log"
    flags = ("--provider", provider, "--data-dir", str(data), "--permission-mode", "bypass")
    editor = Editor()
    async with caw_acp(editor, env, work, *flags, stderr=log) as (conn, _proc):
        sid = (await conn.new_session(cwd=str(work), mcp_servers=[])).session_id
        assert (
            await prompt(conn, sid, text_block("[[think]] Repeat after me: pondered")) == "end_turn"
        )
        assert "Thinking about" in editor.text("agent_thought_chunk")
        assert editor.text() == "pondered"
        mark = len(editor.updates)
        target = work / "notes.txt"
        assert (
            await prompt(conn, sid, text_block(f"[[tool:write:{target}:hello-notes]] go"))
            == "end_turn"
        )
        assert target.read_text().strip() == "hello-notes"
        edits = [u for u in editor.of("tool_call", mark) if u.kind == "edit"]
        assert edits, [(u.kind, u.title) for u in editor.of("tool_call", mark)]
        assert any(loc.path.endswith("notes.txt") for loc in edits[0].locations or [])
    editor = Editor()
    async with caw_acp(editor, env, work, *flags, stderr=log) as (conn, _proc):
        await conn.load_session(cwd=str(work), session_id=sid, mcp_servers=[])
        assert "Thinking about" in editor.text("agent_thought_chunk")
        assert any(u.kind == "edit" for u in editor.of("tool_call"))
