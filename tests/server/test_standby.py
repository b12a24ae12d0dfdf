"""The first answer as warm as the next (issue 20), against the real CLIs: session/resume
starts the backend ahead of the first send, and session/start adopts a standby backend
started ahead (its pid is the session's), never a dead one, none with --standby 0."""

from __future__ import annotations

import json

import pytest

from caw.client import CawClient, RpcError
from caw.providers import provider_class
from tests.support.procs import descendants, wait_until

pytestmark = pytest.mark.e2e

TURN = 120  # seconds: a generous bound for one turn on a busy 2-core machine


def cli_pids(client: CawClient, provider: str) -> set[int]:
    assert client.pid is not None
    cli = provider_class(provider).cli
    return {pid for pid, cmd in descendants(client.pid).items() if cli in cmd}


async def answered(client: CawClient, session_id: str, text: str) -> dict:
    answer = await client.send(session_id, f"Repeat after me: {text}")
    assert answer["turn"]["result"] == text
    return answer


@pytest.mark.parametrize("provider", ["claude_code", "codex"])
async def test_resume_starts_the_backend_before_the_first_send(
    provider, cli_env, scripted, spawn_daemon, tmp_path
):
    env = cli_env(provider)
    client = await spawn_daemon("--data-dir", str(tmp_path / "data"), "--standby", "0", env=env)
    sid = (await client.start_session(provider=provider, cwd=str(tmp_path)))["sessionId"]
    handle = (await answered(client, sid, "before"))["resumeHandle"]
    await client.end(sid)
    wait_until(lambda: not cli_pids(client, provider), what="the ended session's backend to stop")

    await client.resume(handle=handle, cwd=str(tmp_path))
    started = wait_until(lambda: cli_pids(client, provider), TURN, what="the resumed backend")
    await answered(client, sid, "after")
    assert started <= cli_pids(client, provider)  # the send used the backend started ahead


async def test_resume_with_wait_reports_a_failed_start_itself(
    cli_env, scripted, spawn_daemon, tmp_path
):
    env = cli_env("codex")
    client = await spawn_daemon("--no-data-dir", env=env)
    sid = (await client.start_session(provider="codex", cwd=str(tmp_path)))["sessionId"]
    handle = json.loads((await answered(client, sid, "ready"))["resumeHandle"])
    await client.end(sid)
    handle["resume_key"] = "0b6e4b5e-8c4f-4b7a-9a59-3c3b1f2e4d5a"  # a thread codex never had
    with pytest.raises(RpcError) as failed:
        await client.request(
            "session/resume", {"handle": json.dumps(handle), "cwd": str(tmp_path), "wait": True}
        )
    assert failed.value.kind == "backendFailed"
