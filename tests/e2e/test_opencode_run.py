"""The opencode fallback: one `opencode run --format json` per turn, when serve is off or broken."""

from __future__ import annotations

import asyncio
import os

import pytest

import caw
from caw import AsyncAgent
from caw.providers import close_shared_providers
from caw.providers.opencode import RunConversation, ServeConversation
from tests.support.procs import descendants, wait_until

pytestmark = pytest.mark.e2e


def opencode_processes(kind: str) -> list[int]:
    return [
        pid
        for pid, cmd in descendants(os.getpid()).items()
        if "opencode" in cmd and f" {kind} " in f"{cmd} "
    ]


@pytest.fixture
async def run_env(cli_env):
    yield {**cli_env("opencode"), "CAW_OPENCODE_MODE": "run"}
    await close_shared_providers()


async def test_run_mode_starts_sends_and_resumes(run_env, scripted, tmp_path):
    agent = AsyncAgent(
        provider="opencode", env=run_env, cwd=tmp_path, system_prompt="You are caw-test-persona."
    )
    session = await agent.start_session()
    assert isinstance(session._conversation, RunConversation)
    seen: list[caw.Event] = []
    turn = await session.send(
        "My deploy target is staging-eu. Remember that.", on_event=seen.append
    )
    assert turn.result == "Noted: deploy target is staging-eu."
    assert turn.usage.input_tokens > 0 and any(isinstance(e, caw.UsageUpdate) for e in seen)
    # the message reached the model verbatim (run would quote it if it were passed as an argument)
    assert scripted.main_requests()[-1].user_texts() == [
        "My deploy target is staging-eu. Remember that."
    ]
    assert "You are caw-test-persona." in scripted.main_requests()[-1].system
    handle = caw.decode_handle(session.resume_handle)
    assert handle.resume_key.startswith("ses_") and handle.resume_key != session.session_id
    await session.end()
    assert not opencode_processes("serve")

    resumed = await AsyncAgent(provider="opencode", env=run_env, cwd=tmp_path).resume_session(
        session.resume_handle
    )
    turn = await resumed.send("[[tool:bash:echo hello-from-tool]] Where am I deploying?")
    (tool,) = [b for b in turn.output if isinstance(b, caw.ToolUseBlock)]
    assert (
        tool.output or ""
    ).strip() == "hello-from-tool" and turn.result == "Tool said: hello-from-tool"
    # the resumed turn carried the earlier history to the model
    assert (
        scripted.main_requests()[-1].user_texts()[0]
        == "My deploy target is staging-eu. Remember that."
    )
    assert resumed.resume_key == handle.resume_key
    await resumed.end()


async def test_run_mode_unknown_session_fails_clearly(run_env, scripted, tmp_path):
    key = "ses_0123456789abcdefABCDEFghij"
    handle = caw.ResumeHandle(
        provider="opencode", session_id="0b6e4b5e-8c4f-4b7a-9a59-000000000000", resume_key=key
    ).encode()
    session = await AsyncAgent(provider="opencode", env=run_env, cwd=tmp_path).resume_session(
        handle
    )
    with pytest.raises(caw.BackendFailed, match="no session with this resume key") as caught:
        await session.send("Where am I deploying?")
    assert key not in str(caught.value)
    assert not scripted.main_requests()
    await session.end()


async def test_run_mode_cancel(run_env, scripted, tmp_path):
    session = await AsyncAgent(provider="opencode", env=run_env, cwd=tmp_path).start_session()
    sending = asyncio.create_task(session.send("[[slow:20]] Tell me a long story."))
    await asyncio.to_thread(
        wait_until,
        lambda: any(
            "[[slow:20]]" in (r.user_texts() or [""])[-1] for r in scripted.main_requests()
        ),
        60,
        what="the slow turn",
    )
    assert await session.cancel()
    with pytest.raises(caw.TurnCancelled):
        await asyncio.wait_for(sending, 30)
    assert not opencode_processes("run")
    await session.end()


async def test_a_broken_serve_falls_back_to_run(cli_env, scripted, tmp_path):
    env = cli_env("opencode")
    env.pop("CAW_OPENCODE_MODE", None)
    real = env["PATH"].split(os.pathsep)[0] + "/opencode"
    wrapper = tmp_path / "opencode-without-serve"
    wrapper.write_text(
        f'#!/bin/sh\nif [ "$1" = serve ]; then echo "serve is broken here" >&2; exit 3; fi\nexec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    env["CAW_OPENCODE_BIN"] = str(wrapper)
    try:
        session = await AsyncAgent(provider="opencode", env=env, cwd=tmp_path).start_session()
        assert isinstance(session._conversation, RunConversation)
        assert (await session.send("Repeat after me: still answering")).result == "still answering"
        await session.end()
        # forcing serve reports why it could not start
        with pytest.raises(caw.BackendFailed, match="serve is broken here"):
            await AsyncAgent(
                provider="opencode", env={**env, "CAW_OPENCODE_MODE": "serve"}, cwd=tmp_path
            ).start_session()
    finally:
        await close_shared_providers()


async def test_serve_is_the_default(cli_env, scripted, tmp_path):
    env = cli_env("opencode")
    env.pop("CAW_OPENCODE_MODE", None)
    try:
        session = await AsyncAgent(provider="opencode", env=env, cwd=tmp_path).start_session()
        assert isinstance(session._conversation, ServeConversation)
        await session.end()
    finally:
        await close_shared_providers()
