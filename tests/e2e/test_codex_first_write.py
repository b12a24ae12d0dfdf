"""codex's first thread write paid ahead (caw/providers/codex/first_write.py), against the real
CLI: the first standby on an app-server makes it write and delete a throwaway thread, with no
model request and no trace left, and the standby's thread then asks the model exactly what a
thread on an app-server that did not do this asks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from caw import AsyncAgent
from caw.providers import close_shared_providers
from caw.providers.codex import CodexThreadStandby

pytestmark = pytest.mark.e2e

IDS = {"id", "turn_id", "root_turn_id", "x-codex-turn-metadata"}  # new for every turn


def without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if k not in IDS}
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


def first_request(request: Any, thread_id: str) -> Any:
    """A thread's first model request, less what names the thread or the turn."""
    return without_ids(json.loads(json.dumps(request.body).replace(thread_id, "THREAD")))


def rollouts(env: dict[str, str]) -> list[Path]:
    return sorted(Path(env["CODEX_HOME"], "sessions").rglob("rollout-*.jsonl"))


async def test_the_first_standby_writes_a_throwaway_thread_and_leaves_no_trace(
    require_cli, cli_env, scripted, tmp_path
):
    require_cli("codex")
    env = cli_env("codex", extra={"CAW_CODEX_MODE": "app-server"})
    agent = AsyncAgent("codex", env=env, cwd=tmp_path, permission_mode="bypass")
    try:
        # A session on an app-server started for it (no standby): what a fresh thread asks.
        plain = await agent.start_session()
        try:
            assert (await plain.send("Repeat after me: first")).result == "first"
            assert plain.resume_key is not None
            expected = first_request(scripted.main_requests()[-1], plain.resume_key)
        finally:
            await plain.end()  # which retires its app-server: the standby gets a new one
        assert len(rollouts(env)) == 1
        scripted.reset()

        standby = await agent.prestart()
        assert isinstance(standby, CodexThreadStandby)
        assert standby.server.first_write_done
        assert scripted.requests == []  # no model request
        assert len(rollouts(env)) == 1  # the throwaway thread's file is gone
        listed = await standby.server.peer.request("thread/list", {})
        assert [thread["id"] for thread in listed["data"]] == [plain.resume_key]

        adopted = await agent.start_session(session_id=standby.session_id)
        try:
            assert (await adopted.send("Repeat after me: first")).result == "first"
            assert adopted.resume_key == standby.thread_id  # the standby's thread
            assert len(scripted.main_requests()) == 1
            assert first_request(scripted.main_requests()[-1], standby.thread_id) == expected
        finally:
            await adopted.end()
        assert len(rollouts(env)) == 2
    finally:
        await close_shared_providers()
