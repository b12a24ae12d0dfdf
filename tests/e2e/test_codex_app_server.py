"""The codex adapter through the real `codex app-server`, against the scripted model server."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import uuid
from pathlib import Path

import pytest

import caw
from caw import AsyncAgent
from caw.providers import close_shared_providers, shared_provider
from caw.providers.base import UUID_RE
from tests.support.procs import kill, processes
from tests.support.turns import one_hangs_while_another_answers, wait_for_request

pytestmark = pytest.mark.e2e


def app_servers() -> list[int]:
    """Our app-server children (not their forks, which carry the same command line until they exec)."""
    return [
        pid
        for pid, (parent, cmd) in processes().items()
        if parent == os.getpid() and "app-server" in cmd
    ]


@pytest.fixture
async def env(cli_env):
    environment = cli_env(
        "codex", extra={"CAW_CODEX_MODE": "app-server"}
    )  # no silent fallback to exec
    yield environment
    await close_shared_providers()  # a failing test must not leave its app-server behind


def rollouts(env: dict[str, str]) -> list[Path]:
    return sorted(Path(env["CODEX_HOME"]).glob("sessions/**/rollout-*.jsonl"))


async def test_start_send_and_resume_in_process(env, scripted):
    agent = AsyncAgent(provider="codex", env=env)
    session = await agent.start_session()
    turn = await session.send("My deploy target is staging-eu. Remember that.")
    assert turn.result == "Noted: deploy target is staging-eu."
    handle = caw.decode_handle(session.resume_handle)
    assert UUID_RE.match(handle.resume_key) and handle.resume_key != session.session_id
    assert turn.usage.input_tokens > 0 and turn.usage.output_tokens > 0
    await session.end()
    assert not app_servers(), "the last conversation closed, so the app-server stopped"

    resumed = await AsyncAgent(provider="codex", env=env).resume_session(session.resume_handle)
    assert (await resumed.send("Where am I deploying?")).result == "staging-eu"
    assert resumed.resume_key == handle.resume_key
    await resumed.end()
    # the model saw the first turn: the thread's history came from codex, not from caw
    assert (
        "My deploy target is staging-eu. Remember that."
        in scripted.main_requests()[-1].user_texts()
    )


async def test_threads_share_one_app_server_and_run_concurrently(env, scripted):
    agent = AsyncAgent(provider="codex", env=env)
    first, second = await agent.start_session(), await agent.start_session()
    (server,) = app_servers()
    argv0 = processes()[server][1].split()[0]
    assert os.path.basename(argv0) == "codex", (
        "the native binary runs, not node with the npm wrapper"
    )
    await one_hangs_while_another_answers(first, second, scripted)
    assert app_servers() == [server]
    await first.end()
    assert app_servers() == [server], "the second thread still holds the server"
    await second.end()
    assert not app_servers()


async def test_resume_in_a_new_app_server_answers_from_history(env, scripted):
    session = await AsyncAgent(provider="codex", env=env).start_session()
    await session.send("My color is teal. Remember that.")
    (before,) = app_servers()
    handle = session.resume_handle
    await session.end()
    scripted.clear()

    resumed = await AsyncAgent(provider="codex", env=env).resume_session(handle)
    (after,) = app_servers()
    assert after != before
    assert (await resumed.send("What is my color?")).result == "teal"
    await resumed.end()
    (request,) = scripted.main_requests()
    assert request.user_texts() == ["My color is teal. Remember that.", "What is my color?"]


async def test_unknown_thread_fails_at_resume_without_starting_one(env, scripted):
    key = str(uuid.uuid4())
    handle = caw.ResumeHandle(
        provider="codex", session_id=str(uuid.uuid4()), resume_key=key
    ).encode()
    with pytest.raises(caw.BackendFailed, match="no conversation with this resume key") as caught:
        await AsyncAgent(provider="codex", env=env).resume_session(handle)
    assert key not in str(caught.value)  # resume keys stay out of messages (and so out of logs)
    assert not scripted.main_requests() and not rollouts(env)
    assert not app_servers()


async def test_a_non_uuid_key_is_an_invalid_handle(env):
    handle = caw.ResumeHandle(
        provider="codex", session_id=str(uuid.uuid4()), resume_key="my-thread-name"
    ).encode()
    with pytest.raises(caw.InvalidHandle):
        await AsyncAgent(provider="codex", env=env).resume_session(handle)
    assert not app_servers()


async def test_cancel_interrupts_the_turn_and_the_thread_goes_on(env, scripted):
    session = await AsyncAgent(provider="codex", env=env).start_session()
    await session.send("My pet is a heron. Remember that.")
    streaming = asyncio.Event()
    sending = asyncio.create_task(
        session.send("[[slow:5]] Tell me a long story.", on_event=lambda e: streaming.set())
    )
    await asyncio.wait_for(streaming.wait(), 30)
    (server,) = app_servers()
    assert await session.cancel()
    with pytest.raises(caw.TurnCancelled) as caught:
        await sending
    assert caught.value.turn.stop_reason == "cancelled"
    assert (await session.send("What is my pet?")).result == "a heron"
    assert app_servers() == [server], "an interrupt keeps the app-server"
    await session.end()


async def test_a_killed_app_server_fails_every_running_turn_then_sessions_resume(env, scripted):
    agent = AsyncAgent(provider="codex", env=env)
    sessions = [await agent.start_session() for _ in range(2)]
    for i, session in enumerate(sessions):
        await session.send(f"My secret word is word-{i}. Remember that.")
    (server,) = app_servers()
    turns = [
        asyncio.create_task(s.send(f"[[slow:20]] Story number {i}."))
        for i, s in enumerate(sessions)
    ]
    await wait_for_request(scripted, "[[slow:20]]", count=2)
    kill([server], signal.SIGKILL)
    for task in turns:
        with pytest.raises(caw.BackendFailed, match="SIGKILL") as caught:
            await task
        assert "app-server" in str(caught.value)
    assert not any(s.live for s in sessions)
    for i, session in enumerate(sessions):
        assert (await session.send("What is my secret word?")).result == f"word-{i}"
    assert len(app_servers()) == 1 and app_servers() != [server]
    for session in sessions:
        await session.end()


@pytest.mark.parametrize("mode", ["app-server", "exec"])
async def test_model_system_prompt_and_reasoning_reach_the_model(cli_env, scripted, mode):
    # The quotes check the quoting of each way in: JSON for app-server, TOML in -c for exec.
    agent = AsyncAgent(
        provider="codex", env=cli_env("codex", extra={"CAW_CODEX_MODE": mode}),
        model="caw-scripted-2", system_prompt='You are "caw-test-persona".', reasoning="high",
    )  # fmt: skip
    session = await agent.start_session()
    await session.send("Hello there.")
    await session.end()
    request = scripted.main_requests()[-1]
    assert request.model == "caw-scripted-2"
    assert 'You are "caw-test-persona".' in request.system
    assert request.body["reasoning"]["effort"] == "high"


async def test_tool_calls_stream_as_events(env, scripted, tmp_path):
    session = await AsyncAgent(provider="codex", env=env, cwd=tmp_path).start_session()
    seen: list[caw.Event] = []
    turn = await session.send("[[tool:bash:echo hello-from-tool]] Run it.", on_event=seen.append)
    await session.end()
    (tool,) = [b for b in turn.output if isinstance(b, caw.ToolUseBlock)]
    assert "echo hello-from-tool" in tool.input["command"] and tool.input["cwd"] == str(tmp_path)
    assert (tool.output or "").strip() == "hello-from-tool" and not tool.is_error
    kinds = [type(e).__name__ for e in seen]
    assert kinds.index("ToolCall") < kinds.index("ToolResult") < kinds.index("TextDelta")


async def test_deny_mode_declines_commands(env, scripted, tmp_path):
    target = tmp_path / "created-by-the-agent"
    session = await AsyncAgent(
        provider="codex", env=env, cwd=tmp_path, permission_mode="deny"
    ).start_session()
    turn = await session.send(f"[[tool:bash:touch {target}]] Run it.")
    await session.end()
    (tool,) = [b for b in turn.output if isinstance(b, caw.ToolUseBlock)]
    assert tool.is_error and not target.exists()


async def test_provider_aclose_stops_every_app_server(env, scripted):
    other = {**env, "CODEX_HOME": env["CODEX_HOME"] + "-other"}
    shutil.copytree(env["CODEX_HOME"], other["CODEX_HOME"])
    first = await AsyncAgent(provider="codex", env=env).start_session()
    second = await AsyncAgent(provider="codex", env=other).start_session()
    assert len(app_servers()) == 2, "a different CODEX_HOME gets its own app-server"
    await first.send("My color is teal. Remember that.")
    await second.send("My color is plum. Remember that.")
    await shared_provider("codex").aclose()
    assert not app_servers()
    assert not first.live and not second.live
    # the sessions resume their threads (each in its own CODEX_HOME) at the next send
    assert (await first.send("What is my color?")).result == "teal"
    assert (await second.send("What is my color?")).result == "plum"
    assert len(app_servers()) == 2
    await first.end()
    await second.end()
    assert not app_servers()


async def test_model_errors_fail_the_turn_and_the_thread_goes_on(env, scripted):
    session = await AsyncAgent(provider="codex", env=env).start_session()
    with pytest.raises(caw.UsageLimitReached, match="usage limit"):
        await session.send("[[usage-limit]] Hello there.")
    with pytest.raises(caw.ModelError, match="internalServerError"):
        await session.send("[[fail:500]] Hello there.")
    with pytest.raises(caw.ModelError, match="HTTP 429"):
        await session.send("[[fail:429]] Hello there.")
    assert (await session.send("Hello there.")).result
    assert session.live
    await session.end()
