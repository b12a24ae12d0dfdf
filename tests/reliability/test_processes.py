"""Processes and limits (issue 21, finding 9): nothing a backend starts outlives it, and a
caw request sent as a notification starts nothing."""

from __future__ import annotations

import asyncio
import random

import pytest

from caw import AsyncAgent
from caw.providers import close_shared_providers
from tests.support.procs import processes

from .conftest import TURN

pytestmark = pytest.mark.reliability("processes")


def _sleepers(seconds: str) -> list[int]:
    return [pid for pid, (_, cmd) in processes().items() if cmd.strip() == f"sleep {seconds}"]


async def _wait_for(predicate, what: str, timeout: float = 20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := predicate()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)  # polling /proc: there is no event for a process appearing
    return value


@pytest.mark.e2e
@pytest.mark.parametrize("provider", ["claude_code", "codex", "opencode"])
async def test_a_tool_process_that_calls_setsid_ends_with_the_session(
    provider, cli_env, scripted, tmp_path, record_property
):
    """A tool starts `setsid sleep N &` (its own session and process group, re-parented to
    init once the shell exits); ending the session (and its shared server) ends it."""
    seconds = f"{random.randint(100_000, 999_999)}"
    session = await AsyncAgent(
        provider=provider, env=cli_env(provider), cwd=tmp_path
    ).start_session()
    try:
        turn = await asyncio.wait_for(
            session.send(
                f"[[tool:bash:setsid sleep {seconds} </dev/null >/dev/null 2>&1 & echo spawned]] Go."
            ),
            TURN,
        )
        assert "spawned" in turn.result, turn.result
        await _wait_for(lambda: _sleepers(seconds), "the tool's sleep to start")
    finally:
        await session.end()
        await close_shared_providers()
    await _wait_for(lambda: not _sleepers(seconds), "the setsid sleep to end", timeout=10)


@pytest.mark.e2e
async def test_session_start_as_a_notification_starts_nothing(all_env, scripted, leaks, tmp_path):
    client = await leaks.daemon(tmp_path / "data", all_env, tmp_path)
    try:
        await client.initialize()
        for provider in ("claude_code", "codex", "opencode"):
            client.notify("session/start", {"provider": provider, "cwd": str(tmp_path)})
        assert await client.list_sessions() == []  # answered after the notifications were read
        await asyncio.sleep(0)
        daemon = client.pid
        table = processes()
        children = [pid for pid, (ppid, _) in table.items() if ppid == daemon]
        assert children == [], [table[p][1] for p in children]
        stderr = "\n".join(client.stderr_lines)
        assert "refused session/start sent as a notification" in stderr
    finally:
        await client.aclose()
