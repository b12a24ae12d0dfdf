"""The codex fallback: one `codex exec --json` process per turn, for CLIs without a working app-server."""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from pathlib import Path

import pytest

import caw
from caw import AsyncAgent
from caw.providers import close_shared_providers
from caw.providers.base import UUID_RE
from caw.providers.codex import native_cli
from tests.support.procs import processes

pytestmark = pytest.mark.e2e


def codex_children() -> list[str]:
    return [cmd for parent, cmd in processes().values() if parent == os.getpid() and "codex" in cmd]


@pytest.fixture
async def env(cli_env):
    yield cli_env("codex", extra={"CAW_CODEX_MODE": "exec"})
    await close_shared_providers()


def rollouts(env: dict[str, str]) -> list[Path]:
    """The rollout files codex wrote under the test's CODEX_HOME."""
    return list(Path(env["CODEX_HOME"]).glob("sessions/**/rollout-*.jsonl"))


async def test_start_send_and_resume_from_another_agent(env, scripted):
    session = await AsyncAgent(provider="codex", env=env).start_session()
    assert not codex_children(), "nothing runs between turns"
    turn = await session.send("My deploy target is staging-eu. Remember that.")
    assert turn.result == "Noted: deploy target is staging-eu."
    assert turn.usage.input_tokens > 0 and turn.usage.output_tokens > 0
    assert UUID_RE.match(session.resume_key or "") and session.resume_key != session.session_id
    assert (await session.send("Where am I deploying?")).result == "staging-eu"
    handle = session.resume_handle
    await session.end()

    resumed = await AsyncAgent(provider="codex", env=env).resume_session(handle)
    assert (await resumed.send("What was my deploy target?")).result == "staging-eu"
    assert resumed.resume_key == session.resume_key
    await resumed.end()
    assert scripted.main_requests()[-1].user_texts() == [
        "My deploy target is staging-eu. Remember that.", "Where am I deploying?", "What was my deploy target?",
    ]  # fmt: skip
    assert not codex_children()


async def test_unknown_thread_fails_clearly_without_starting_one(env, scripted):
    key = str(uuid.uuid4())
    handle = caw.ResumeHandle(
        provider="codex", session_id=str(uuid.uuid4()), resume_key=key
    ).encode()
    session = await AsyncAgent(provider="codex", env=env).resume_session(handle)
    with pytest.raises(caw.BackendFailed, match="no conversation with this resume key") as caught:
        await session.send("Where am I deploying?")
    assert key not in str(caught.value)
    await session.end()
    assert not scripted.main_requests()
    assert not rollouts(env)


async def test_cancel_ends_the_turn_and_the_thread_goes_on(env, scripted):
    session = await AsyncAgent(provider="codex", env=env).start_session()
    await session.send("My pet is a heron. Remember that.")
    sending = asyncio.create_task(session.send("[[slow:20]] Tell me a long story."))
    await asyncio.to_thread(
        scripted.wait_for_request,
        lambda r: r.kind == "main" and "[[slow:20]]" in r.user_texts()[-1],
        30,
    )
    assert await session.cancel()
    with pytest.raises(caw.TurnCancelled):
        await sending
    assert (await session.send("What is my pet?")).result == "a heron"
    await session.end()
    assert not codex_children()


async def test_a_cli_without_app_server_falls_back_by_itself(
    cli_env, require_cli, scripted, tmp_path, caplog
):
    """A codex whose `app-server` fails is driven through `codex exec`, with no setting."""
    real, extra = native_cli(require_cli("codex"))
    old_codex = tmp_path / "old-codex"
    old_codex.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = app-server ]; then echo "error: unrecognized subcommand \'app-server\'" >&2; exit 2; fi\n'
        f'exec "{real}" "$@"\n'
    )
    old_codex.chmod(old_codex.stat().st_mode | stat.S_IXUSR)
    env = cli_env("codex", extra={"CAW_CODEX_BIN": str(old_codex), **extra})
    try:
        session = await AsyncAgent(provider="codex", env=env).start_session()
        await session.send("My color is teal. Remember that.")
        assert (await session.send("What is my color?")).result == "teal"
        await session.end()
        assert "using `codex exec` per turn" in caplog.text
        assert "unrecognized subcommand" in caplog.text
    finally:
        await close_shared_providers()


async def test_model_errors_fail_the_turn_and_the_thread_goes_on(env, scripted):
    session = await AsyncAgent(provider="codex", env=env).start_session()
    await session.send("My pet is a heron. Remember that.")
    with pytest.raises(caw.UsageLimitReached, match="usage limit"):
        await session.send("[[usage-limit]] Hello there.")
    with pytest.raises(caw.ModelError, match="429"):
        await session.send("[[fail:429]] Hello there.")
    assert (await session.send("What is my pet?")).result == "a heron"
    await session.end()
