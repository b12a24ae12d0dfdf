"""caw-server's auto-wait, through the real claude CLI: the scripted server answers the first model
request with the API's usage-limit error; with auto-wait on, the daemon tells the client
(a ``usageLimitWait`` session/update with the wait and the reset time), waits and sends the turn
again; ``session/cancel`` ends the wait. The library's case, per CLI, is test_auto_wait.py."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from caw.client import CawClient, RpcError
from caw_server.options import from_args

from .test_auto_wait import limit_first_request

pytestmark = pytest.mark.e2e

PROVIDER = "claude_code"  # one CLI is enough here: each CLI's message is parsed per CLI there

# Loaded by the daemon's interpreter at startup (PYTHONPATH): the wait's sleep records its
# minutes and returns at once, so the resend is seen without waiting the reset out.
FAST_SLEEP = """
import asyncio, json, os
import caw.usage_limits as usage_limits

async def _recorded(minutes):
    with open(os.environ["CAW_TEST_SLEEPS"], "a") as f:
        f.write(json.dumps(minutes) + "\\n")
    await asyncio.sleep(0)

usage_limits.sleep_minutes = _recorded
"""


async def spawn(
    env: dict[str, str], cwd: Path, *args: str, options: dict | None = None
) -> CawClient:
    client = await CawClient.spawn(
        "--no-data-dir", "--permission-mode", "bypass", *args, env=env, cwd=str(cwd)
    )
    await client.initialize(options)
    return client


def wait_updates(client: CawClient) -> list[dict]:
    return [
        params["update"]
        for method, params in client.notifications
        if method == "session/update" and params["update"]["kind"] == "usageLimitWait"
    ]


def daemon_env(cli_env, **extra: str) -> dict[str, str]:
    env = cli_env(PROVIDER)
    env.pop("CAW_AUTOWAIT", None)  # on or off as each test says
    return {**env, **extra}


async def test_the_daemon_waits_tells_the_client_and_sends_the_turn_again(
    cli_env, scripted, tmp_path
):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(FAST_SLEEP)
    sleeps = tmp_path / "sleeps.jsonl"
    env = daemon_env(cli_env, CAW_AUTOWAIT="1", CAW_TEST_SLEEPS=str(sleeps))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH")]))
    limit_first_request(scripted)
    client = await spawn(env, tmp_path)
    try:
        sid = (await client.start_session(provider=PROVIDER, cwd=str(tmp_path)))["sessionId"]
        answer = await client.send(sid, "Repeat after me: still here")
        assert answer["turn"]["result"] == "still here"
        [told] = wait_updates(client)
        slept = [json.loads(line) for line in sleeps.read_text().splitlines()]
        assert slept == [told["waitMinutes"]] and told["waitMinutes"] >= 1
        assert datetime.fromisoformat(told["resetsAt"].replace("Z", "+00:00")).tzinfo is not None
        assert "limit" in told["message"].lower()
        # The next turn is an ordinary one.
        again = await client.send(sid, "Repeat after me: once more")
        assert again["turn"]["result"] == "once more" and len(wait_updates(client)) == 1
    finally:
        await client.aclose(timeout=60)


async def test_session_cancel_ends_the_wait(cli_env, scripted, tmp_path):
    limit_first_request(scripted)
    client = await spawn(daemon_env(cli_env), tmp_path, options={"autoWait": True})
    try:
        sid = (await client.start_session(provider=PROVIDER, cwd=str(tmp_path)))["sessionId"]
        pending = client.start_send(sid, "Repeat after me: still here")
        told = await client.wait_for_notification(
            "session/update", lambda p: p["update"]["kind"] == "usageLimitWait", timeout=120
        )
        assert told["sessionId"] == sid and told["update"]["waitMinutes"] >= 1
        assert not pending.future.done()  # waiting (a real wait: at least a minute)
        assert await client.cancel(sid) is True
        with pytest.raises(RpcError) as cancelled:
            await asyncio.wait_for(pending.future, 30)
        assert cancelled.value.kind == "cancelled"
        answer = await client.send(sid, "Repeat after me: after the cancel")
        assert answer["turn"]["result"] == "after the cancel"
    finally:
        await client.aclose(timeout=60)


async def test_without_auto_wait_the_turn_fails_with_usage_limit(cli_env, scripted, tmp_path):
    limit_first_request(scripted)
    client = await spawn(daemon_env(cli_env), tmp_path)
    try:
        sid = (await client.start_session(provider=PROVIDER, cwd=str(tmp_path)))["sessionId"]
        with pytest.raises(RpcError) as limited:
            await client.send(sid, "Repeat after me: still here")
        assert limited.value.kind == "usageLimit" and wait_updates(client) == []
    finally:
        await client.aclose(timeout=60)


def test_auto_wait_settings(monkeypatch):
    monkeypatch.delenv("CAW_AUTOWAIT", raising=False)
    assert from_args([]).auto_wait is False  # the daemon's default: off
    assert from_args(["--auto-wait"]).auto_wait is True
    monkeypatch.setenv("CAW_AUTOWAIT", "1")
    assert from_args([]).auto_wait is True
    assert from_args(["--no-auto-wait"]).auto_wait is False
    monkeypatch.setenv("CAW_AUTOWAIT", "0")
    assert from_args([]).auto_wait is False
