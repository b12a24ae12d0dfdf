"""The first answer as warm as the next (issue 20), against the real CLIs: session/resume
starts the backend ahead of the first send, and session/start adopts a standby backend
started ahead (its pid is the session's), never a dead one, none with --standby 0."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from caw import AsyncAgent
from caw.client import CawClient, RpcError
from caw.providers import provider_class
from caw.providers.claude_code import ClaudeConversation, ClaudeStandby
from caw.providers.watchdog import MARKER_ENV
from tests.support.procs import alive, children, descendants, wait_until

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


# --- standby backends -------------------------------------------------------------------


def claude_processes(client: CawClient) -> dict[str, int]:
    """session id -> pid of each claude process the daemon runs (its --session-id)."""
    assert client.pid is not None
    found = {}
    for pid, cmd in children(client.pid).items():
        words = cmd.split()
        if "--session-id" in words:
            found[words[words.index("--session-id") + 1]] = pid
    return found


def standby_of(client: CawClient, live: set[str]) -> tuple[str, int]:
    """The one claude process no live session owns: (its session id, its pid)."""

    def find() -> tuple[str, int] | None:
        spare = {s: p for s, p in claude_processes(client).items() if s not in live}
        return next(iter(spare.items())) if len(spare) == 1 else None

    found = wait_until(find, TURN, what="a standby claude process")
    assert found is not None
    return found


def started_as(pid: int) -> tuple[list[str], str, dict[str, str]]:
    """A process's command line, working directory and environment (its marker aside)."""
    proc = Path(f"/proc/{pid}")
    argv = proc.joinpath("cmdline").read_bytes().decode().split("\0")
    env = dict(
        item.split("=", 1)
        for item in proc.joinpath("environ").read_bytes().decode().split("\0")
        if "=" in item
    )
    env.pop(MARKER_ENV, None)
    return argv, os.readlink(proc / "cwd"), env


async def test_start_adopts_a_standby_claude_identical_to_a_fresh_one(
    cli_env, scripted, spawn_daemon, tmp_path
):
    client = await spawn_daemon("--no-data-dir", env=cli_env("claude_code"))
    first = (await client.start_session(provider="claude_code", cwd=str(tmp_path)))["sessionId"]
    await answered(client, first, "fresh")
    fresh_pid = claude_processes(client)[first]
    spare_id, spare_pid = standby_of(client, {first})

    second = (await client.start_session(provider="claude_code", cwd=str(tmp_path)))["sessionId"]
    assert second == spare_id and claude_processes(client)[second] == spare_pid  # adopted
    await answered(client, second, "warm")
    assert claude_processes(client)[second] == spare_pid  # the turn ran on it

    fresh, adopted = started_as(fresh_pid), started_as(spare_pid)
    assert [a.replace(first, second) for a in fresh[0]] == adopted[0]
    assert fresh[1:] == adopted[1:]  # same working directory and environment
    standby_of(client, {first, second})  # and another is started behind it

    # Other settings (here: a model) are another key: not this standby.
    other = await client.start_session(provider="claude_code", cwd=str(tmp_path), model="opus")
    assert other["sessionId"] not in (spare_id, first)


@pytest.mark.parametrize("start", ["once_it_is_gone", "at_once"])
async def test_a_dead_standby_is_replaced_not_handed_out(
    start, cli_env, scripted, spawn_daemon, tmp_path
):
    client = await spawn_daemon("--no-data-dir", env=cli_env("claude_code"))
    first = (await client.start_session(provider="claude_code", cwd=str(tmp_path)))["sessionId"]
    spare_id, spare_pid = standby_of(client, {first})
    os.kill(spare_pid, signal.SIGKILL)
    if start == "once_it_is_gone":
        wait_until(lambda: spare_id not in claude_processes(client), what="the standby to die")
    # else the system may still be tearing it down, and the daemon has not reaped it yet

    second = (await client.start_session(provider="claude_code", cwd=str(tmp_path)))["sessionId"]
    assert second != spare_id
    await answered(client, second, "alive")
    replacement, _ = standby_of(client, {first, second})
    assert replacement != spare_id


async def test_a_standby_killed_once_claimed_gives_way_to_a_fresh_process(
    cli_env, scripted, tmp_path
):
    """claude's start is the last check: a standby killed after the pool handed it out is not
    adopted; the session runs a new process under the id kept for it, which no conversation
    has had (the standby was never sent a message)."""
    agent = AsyncAgent("claude_code", env=cli_env("claude_code"), cwd=tmp_path)
    standby = await agent.prestart()
    assert isinstance(standby, ClaudeStandby) and standby.pid is not None
    assert await standby.warm_up.wait(TURN)  # loaded, as a standby is when it is handed out
    os.kill(standby.pid, signal.SIGKILL)  # the system is still tearing it down meanwhile
    session = await agent.start_session(session_id=standby.session_id)
    try:
        conversation = session._conversation
        assert isinstance(conversation, ClaudeConversation)
        assert conversation.process is not standby.process
        assert (await session.send("Repeat after me: alive")).result == "alive"
    finally:
        await session.end()


async def test_standby_0_starts_nothing_ahead(cli_env, scripted, spawn_daemon, tmp_path):
    client = await spawn_daemon("--no-data-dir", "--standby", "0", env=cli_env("claude_code"))
    sessions = set()
    for word in ("one", "two"):
        sid = (await client.start_session(provider="claude_code", cwd=str(tmp_path)))["sessionId"]
        await answered(client, sid, word)
        sessions.add(sid)
    assert set(claude_processes(client)) == sessions


async def test_standby_set_by_initialization_options(cli_env, scripted, spawn_daemon, tmp_path):
    client = await spawn_daemon(
        "--no-data-dir", env=cli_env("claude_code"), initialize={"standby": 0}
    )
    sid = (await client.start_session(provider="claude_code", cwd=str(tmp_path)))["sessionId"]
    await answered(client, sid, "only")
    assert set(claude_processes(client)) == {sid}


async def test_codex_lets_go_of_an_ended_sessions_app_server(
    cli_env, scripted, spawn_daemon, tmp_path
):
    client = await spawn_daemon("--no-data-dir", env=cli_env("codex"))
    first = (await client.start_session(provider="codex", cwd=str(tmp_path)))["sessionId"]
    await answered(client, first, "first")
    assert client.pid is not None
    (server,) = [pid for pid, cmd in children(client.pid).items() if "app-server" in cmd]
    await client.end(first)
    # codex keeps an ended thread's writer while its app-server runs, so that server
    # stops (another daemon may resume the session) and the next session gets another.
    wait_until(lambda: not alive(server), what="the first session's app-server to stop")
    second = (await client.start_session(provider="codex", cwd=str(tmp_path)))["sessionId"]
    await answered(client, second, "second")
    servers = [pid for pid, cmd in children(client.pid).items() if "app-server" in cmd]
    assert len(servers) == 1 and server not in servers, descendants(client.pid)


@pytest.mark.parametrize("provider", ["claude_code", "codex"])
async def test_kill_9_of_the_daemon_leaves_no_standby(
    provider, cli_env, scripted, spawn_daemon, tmp_path
):
    client = await spawn_daemon("--no-data-dir", env=cli_env(provider))
    sid = (await client.start_session(provider=provider, cwd=str(tmp_path)))["sessionId"]
    await answered(client, sid, "ready")
    await client.end(sid)  # what runs from now on is the standby alone
    if provider == "claude_code":
        standby_of(client, set())
    assert client.pid is not None and cli_pids(client, provider)
    running = descendants(client.pid)
    os.kill(client.pid, signal.SIGKILL)
    wait_until(lambda: not any(alive(pid) for pid in running), TURN, what="every standby to end")


# What each shared-server provider creates ahead: its class, and the attribute holding the
# conversation's id (the resume key of the session that takes it).
CREATED_AHEAD = {
    "codex": ("CodexThreadStandby", "thread_id"),
    "opencode": ("OpenCodeSessionStandby", "session"),
}


@pytest.mark.parametrize("provider", ["codex", "opencode"])
async def test_start_adopts_what_was_created_ahead_only_with_the_same_settings(
    provider, cli_env, scripted, tmp_path
):
    """Library level: the thread (codex) or session (opencode) ``AsyncAgent.prestart`` created
    is the session's, unless the session's settings differ from the standby's: then it gets a
    fresh one, and the standby is let go (opencode: its unused session deleted)."""
    import importlib

    class_name, key_attr = CREATED_AHEAD[provider]
    standby_class = getattr(importlib.import_module(f"caw.providers.{provider}"), class_name)
    env = cli_env(provider)
    agent = AsyncAgent(provider, env=env, cwd=tmp_path, permission_mode="bypass")
    standby = await agent.prestart()
    assert isinstance(standby, standby_class) and standby.alive
    session = await agent.start_session(session_id=standby.session_id)
    try:
        assert session._conversation is not None
        assert session._conversation.resume_key == getattr(standby, key_attr)  # adopted
        assert (await session.send("Repeat after me: adopted")).result == "adopted"
        assert session.resume_key == getattr(standby, key_attr)

        other = await agent.prestart()
        assert isinstance(other, standby_class)
        assert getattr(other, key_attr) != getattr(standby, key_attr)
        picky = AsyncAgent(provider, env=env, cwd=tmp_path, permission_mode="deny")
        fresh = await picky.start_session(session_id=other.session_id)
        try:
            assert fresh._conversation is not None
            assert fresh._conversation.resume_key != getattr(other, key_attr)  # not the standby's
            assert not other.alive  # and the standby was let go
            if provider == "opencode":  # an unused session would stay in opencode's list
                gone = await other.serve.request("GET", f"/session/{other.session}", "GET")
                assert gone.status_code == 404, gone.status_code
        finally:
            await fresh.end()
    finally:
        await session.end()
