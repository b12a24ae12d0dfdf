"""Processes and limits (issue 21, finding 9): nothing a backend starts outlives it, and a
caw request sent as a notification starts nothing."""

from __future__ import annotations

import asyncio
import os
import random
import resource
import shutil
import signal
import sys
from pathlib import Path

import pytest

from caw import AsyncAgent
from caw.client import RpcError
from caw.providers import close_shared_providers
from caw.providers.process import (
    ArgumentTooLong,
    ChildProcess,
    TooManyOpenFiles,
    WorkingDirectoryMissing,
)
from caw.providers.watchdog import MARKER_ENV, WATCHDOG_ENV
from caw.store import Store
from tests.support.procs import processes

from .conftest import PROVIDERS, TURN

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


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(
        item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item
    )


def _carrying(name: str, values: set[str]) -> list[int]:
    """Live processes whose environment has ``name`` set to one of ``values``."""
    return [pid for pid in processes() if _environ(pid).get(name) in values]


def _setsid_tool(seconds: str) -> str:
    return f"[[tool:bash:setsid sleep {seconds} </dev/null >/dev/null 2>&1 & echo spawned]] Go."


async def _markers_of_sleepers(seconds: list[str]) -> set[str]:
    """The backend markers the detached sleeps carry, once every one of them runs."""
    pids = await _wait_for(
        lambda: [p for s in seconds for p in _sleepers(s)] if all(map(_sleepers, seconds)) else [],
        "every tool's sleep to start",
    )
    markers = {_environ(pid).get(MARKER_ENV, "") for pid in pids}
    assert "" not in markers, "a sleep without a backend marker"
    return markers


async def _assert_swept_after_kill(owner: int, markers: set[str], seconds: list[str]) -> None:
    """``owner`` was SIGKILLed: its watchdog ends every process carrying one of its backends'
    markers (the setsid sleeps included), and then itself."""
    await _wait_for(
        lambda: not _carrying(MARKER_ENV, markers), "every process with a marker to end", 30
    )
    assert not [p for s in seconds for p in _sleepers(s)]
    await _wait_for(lambda: not _carrying(WATCHDOG_ENV, {str(owner)}), "the watchdog to exit", 10)


@pytest.mark.e2e
async def test_a_setsid_tool_process_ends_when_the_daemon_is_sigkilled(
    all_env, scripted, leaks, tmp_path
):
    """One daemon, a session per provider, each tool detaches `setsid sleep N &`; the daemon
    is SIGKILLed (no stop, no atexit): the daemon's watchdog ends every process that carries
    one of its backends' markers, then exits."""
    client = await leaks.daemon(tmp_path / "data", all_env, tmp_path)
    seconds = [f"{random.randint(100_000, 999_999)}" for _ in PROVIDERS]
    try:
        await client.initialize()

        async def run(provider: str, wait: str) -> None:
            started = await client.start_session(provider=provider, permissionMode="bypass")
            answer = await client.send(started["sessionId"], _setsid_tool(wait))
            assert "spawned" in answer["turn"]["result"], answer

        await asyncio.wait_for(
            asyncio.gather(*(run(p, s) for p, s in zip(PROVIDERS, seconds, strict=True))), 3 * TURN
        )
        markers = await _markers_of_sleepers(seconds)
        assert len(markers) == 3
        daemon = client.pid
        os.kill(daemon, signal.SIGKILL)
        assert await client.wait_closed() == -signal.SIGKILL
        await _assert_swept_after_kill(daemon, markers, seconds)
    finally:
        await client.aclose()


LIBRARY_OWNER = """
import asyncio, sys
from caw import AsyncAgent

async def main():
    session = await AsyncAgent(provider=sys.argv[1], cwd=sys.argv[2]).start_session()
    turn = await session.send(sys.argv[3])
    print(turn.result, flush=True)
    await asyncio.Event().wait()  # until killed

asyncio.run(main())
"""


@pytest.mark.e2e
async def test_a_setsid_tool_process_ends_when_a_library_process_is_sigkilled(
    cli_env, scripted, tmp_path
):
    """The same for a program using the library: SIGKILLed after a turn whose tool detached."""
    seconds = f"{random.randint(100_000, 999_999)}"
    owner = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LIBRARY_OWNER,
        "claude_code",
        str(tmp_path),
        _setsid_tool(seconds),
        env=cli_env("claude_code"),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert owner.stdout is not None
        line = await asyncio.wait_for(owner.stdout.readline(), TURN)
        assert b"spawned" in line, line
        markers = await _markers_of_sleepers([seconds])
        owner.kill()
        assert await owner.wait() == -signal.SIGKILL
        await _assert_swept_after_kill(owner.pid, markers, [seconds])
    finally:
        if owner.returncode is None:
            owner.kill()
            await owner.wait()


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
        # (`<cli> --version`: initialize's health probe of each CLI, not a backend)
        children = [
            pid
            for pid, (ppid, cmd) in table.items()
            if ppid == daemon and not cmd.rstrip().endswith(" --version")
        ]
        assert children == [], [table[p][1] for p in children]
        stderr = "\n".join(client.stderr_lines)
        assert "refused session/start sent as a notification" in stderr
    finally:
        await client.aclose()


STANDIN = Path(__file__).parent / "standins" / "claude_odd.py"


def _standin_env(tmp_path: Path) -> dict[str, str]:
    return {"CAW_CLAUDE_BIN": str(STANDIN), "STANDIN_ODD": "", "STANDIN_LOG": str(tmp_path / "log")}


async def test_a_stored_cwd_that_is_gone_is_its_own_error_and_no_phantom_is_left(tmp_path):
    """A start in a folder that does not exist, and a resume of a session whose folder was
    deleted, fail with cwdMissing; the failed start leaves no session in the data dir."""
    data = tmp_path / "data"
    gone = tmp_path / "gone"
    agent = AsyncAgent(provider="claude_code", env=_standin_env(tmp_path), cwd=gone, data_dir=data)
    with pytest.raises(WorkingDirectoryMissing, match="does not exist") as failed:
        await agent.start_session()
    assert failed.value.kind == "cwdMissing"
    assert list(Store(data).iter_trajectories()) == []  # no phantom session

    gone.mkdir()
    session = await agent.start_session()
    await session.send("one")
    await session.end()
    shutil.rmtree(gone)
    with pytest.raises(WorkingDirectoryMissing):
        await AsyncAgent(
            provider="claude_code", env=_standin_env(tmp_path), data_dir=data
        ).resume_session(session.session_id)
    # still listed, and resumable in another folder
    resumed = await AsyncAgent(
        provider="claude_code", env=_standin_env(tmp_path), data_dir=data, cwd=tmp_path
    ).resume_session(session.session_id)
    assert (await resumed.send("two")).result == "answer to: two"
    await resumed.end()
    assert [t.session_id for _, t in Store(data).iter_trajectories()] == [session.session_id]


async def test_an_argv_over_the_system_limit_is_argument_too_long(tmp_path):
    with pytest.raises(ArgumentTooLong, match="E2BIG") as failed:
        await ChildProcess.spawn(["true", "x" * (256 * 1024)], name="true")
    assert failed.value.kind == "argumentTooLong"


async def test_out_of_file_descriptors_is_its_own_error(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 1, hard))
    try:
        with pytest.raises(TooManyOpenFiles, match="file descriptors") as failed:
            await ChildProcess.spawn(["true"], name="true")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert failed.value.kind == "tooManyOpenFiles"


async def test_the_daemon_limits_live_sessions_with_a_clear_error(leaks, tmp_path):
    """--max-sessions 2: a third start is tooManySessions (no backend, nothing listed for it);
    ending one makes room. Resuming a session whose folder was deleted is cwdMissing, and the
    session stays listed."""
    env = {**os.environ, **_standin_env(tmp_path)}
    client = await leaks.daemon(tmp_path / "data", env, tmp_path, "--max-sessions", "2")
    try:
        await client.initialize()
        first = (await client.start_session(provider="claude_code"))["sessionId"]
        await client.start_session(provider="claude_code")
        with pytest.raises(RpcError) as refused:
            await client.start_session(provider="claude_code")
        assert (
            refused.value.kind == "tooManySessions" and "--max-sessions 2" in refused.value.message
        )
        assert len(await client.list_sessions()) == 2
        await client.request("session/end", {"sessionId": first})
        work = tmp_path / "work"
        work.mkdir()
        moved = (await client.start_session(provider="claude_code", cwd=str(work)))["sessionId"]
        await client.send(moved, "one")
        await client.request("session/end", {"sessionId": moved})
        shutil.rmtree(work)
        with pytest.raises(RpcError) as missing:
            # wait: the backend's start errors are this request's (issue 20's eager resume)
            await client.request("session/resume", {"sessionId": moved, "wait": True})
        assert missing.value.kind == "cwdMissing", missing.value
        listed = {s["sessionId"] for s in await client.list_sessions()}
        assert moved in listed and len(listed) == 3  # still listed; no phantom
    finally:
        await client.aclose()


@pytest.mark.e2e
@pytest.mark.parametrize("trusted", [True, False])
async def test_opencode_tools_do_not_see_the_serve_password(trusted, cli_env, scripted, tmp_path):
    """A tool of opencode serve reads OPENCODE_SERVER_PASSWORD: empty (its shell is caw's
    wrapper, caw.providers.opencode.tool_shell), also with the project's configuration off."""
    agent = AsyncAgent(provider="opencode", env=cli_env("opencode"), cwd=tmp_path, trusted=trusted)
    session = await agent.start_session()
    try:
        turn = await asyncio.wait_for(
            session.send("[[tool:bash:echo pw=${#OPENCODE_SERVER_PASSWORD}]] Go."), TURN
        )
    finally:
        await session.end()
        await close_shared_providers()
    assert turn.result == "Tool said: pw=0"


@pytest.mark.e2e
async def test_a_corrupted_trajectory_stays_listed_and_resumes_from_the_backends_history(
    all_env, scripted, leaks, tmp_path
):
    """Each provider's session, its trajectory.json torn mid-write after a turn: session/list
    lists it marked `corrupted` (provider and cwd still read); session/resume by id continues
    it in its own folder, and the backend still knows the first turn's fact. A corrupted
    session with no stored key is trajectoryCorrupted (not internal)."""
    data = tmp_path / "data"
    work = tmp_path / "work"  # not the daemon's cwd: the stand-in must recover it
    work.mkdir()
    client = await leaks.daemon(data, all_env, tmp_path)
    facts: dict[str, str] = {}
    providers: dict[str, str] = {}
    try:
        await client.initialize()

        async def first_turn(provider: str) -> None:
            started = await client.start_session(
                provider=provider, cwd=str(work), permissionMode="bypass"
            )
            sid = started["sessionId"]
            fact = f"{provider}-torn-place"
            await client.send(sid, f"My deploy target is {fact}. Remember that.")
            await client.request("session/end", {"sessionId": sid})
            facts[sid], providers[sid] = fact, provider

        await asyncio.wait_for(asyncio.gather(*map(first_turn, PROVIDERS)), 3 * TURN)
        for sid in facts:
            path = data / "sessions" / sid / "trajectory.json"
            text = path.read_text()
            path.write_text(text[: text.index('"turns"') + 20])  # torn inside the turns
        keyless = "7d3f5a2e-0000-4000-8000-000000000001"
        (data / "sessions" / keyless).mkdir(mode=0o700)
        (data / "sessions" / keyless / "trajectory.json").write_text("{")

        listed = {s["sessionId"]: s for s in await client.list_sessions()}
        assert set(listed) == {*facts, keyless}
        for sid, provider in providers.items():
            assert "not a readable trajectory" in listed[sid]["corrupted"], listed[sid]
            assert (listed[sid]["provider"], listed[sid]["cwd"]) == (provider, str(work))

        async def resume(sid: str) -> None:
            resumed = await client.request("session/resume", {"sessionId": sid})
            assert resumed["turns"] == []  # caw's record of them was lost, not the backend's
            answer = await client.send(sid, "Where am I deploying?")
            assert answer["turn"]["result"] == facts[sid]

        await asyncio.wait_for(asyncio.gather(*map(resume, facts)), 3 * TURN)
        listed = {s["sessionId"]: s for s in await client.list_sessions()}
        assert all(listed[sid].get("corrupted") is None for sid in facts)
        for sid in facts:
            [aside] = (data / "sessions" / sid).glob("corrupted-*")
            assert (aside / "trajectory.json").is_file() and (aside / "turns").is_dir()
        with pytest.raises(RpcError) as corrupted:
            await client.request("session/resume", {"sessionId": keyless})
        assert corrupted.value.kind == "trajectoryCorrupted", corrupted.value
    finally:
        await client.aclose()
