"""The daemon end to end: real backend CLIs against the scripted model server, for each provider.

Every daemon here logs at debug level; the ``spawn_daemon`` fixture then checks
that no resume handle it handed out reached its stderr or window/logMessage.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest

from caw import AsyncAgent
from caw.client import CawClient, DaemonGone, RpcError
from caw.providers import provider_class
from tests.support.procs import alive, descendants, wait_until

pytestmark = pytest.mark.e2e

TURN = 120  # seconds: a generous bound for one turn on a busy 2-core machine


@pytest.fixture
def env(provider, cli_env):
    return cli_env(provider)


def backends(client: CawClient) -> dict[int, str]:
    """The daemon's descendant processes (backend CLIs and whatever they started)."""
    assert client.pid is not None
    return descendants(client.pid)


def cli_pids(client: CawClient, provider: str) -> list[int]:
    cli = provider_class(provider).cli
    return [pid for pid, cmd in backends(client).items() if cli in cmd]


def updates_of(
    client: CawClient, session_id: str, start: int = 0, end: int | None = None
) -> list[dict]:
    return [
        p["update"]
        for m, p in client.notifications[start:end]
        if m == "session/update" and p["sessionId"] == session_id
    ]


def streamed_text(updates: list[dict]) -> str:
    return "".join(u["text"] for u in updates if u["kind"] == "text")


async def wait_update(client: CawClient, session_id: str, start: int) -> None:
    await client.wait_for_notification(
        "session/update", lambda p: p["sessionId"] == session_id, timeout=TURN, start=start
    )


async def test_send_streams_updates_and_progress_before_the_answer(
    provider, env, scripted, spawn_daemon, tmp_path
):
    client = await spawn_daemon(
        "--data-dir", str(tmp_path / "data"), "--log-level", "debug", env=env
    )
    started = await client.start_session(provider=provider, metadata={"title": "deploys"})
    sid = started["sessionId"]
    assert started["provider"] == provider
    mark = len(client.notifications)
    pending = client.start_send(
        sid, "My deploy target is staging-eu. Remember that.", workDoneToken="turn-1"
    )
    answer = await asyncio.wait_for(pending.future, TURN)
    before = client.answered_after[pending.id]

    turn = answer["turn"]
    assert turn["result"] == "Noted: deploy target is staging-eu."
    assert turn["stopReason"] == "end_turn" and turn["index"] == 0
    handle = json.loads(answer["resumeHandle"])
    assert handle["provider"] == provider and handle["session_id"] == sid
    updates = updates_of(client, sid, mark)
    assert updates and updates == updates_of(client, sid, mark, before), (
        "every update arrives before the answer"
    )
    assert {u["kind"] for u in updates} <= {"text", "thinking", "toolCall", "toolResult", "usage"}
    assert streamed_text(updates) == turn["result"]
    progress = [
        p["value"]
        for m, p in client.notifications[mark:before]
        if m == "$/progress" and p["token"] == "turn-1"
    ]
    assert progress[0]["kind"] == "begin" and progress[-1] == {"kind": "end", "message": "done"}
    assert any(v["kind"] == "report" for v in progress)

    # Sent as a notification (no id): it runs and streams, and nothing answers it (JSON-RPC).
    mark = len(client.notifications)
    client.notify("session/send", {"sessionId": sid, "message": "Where am I deploying?"})
    second = await client.send(sid, "Where am I deploying?")  # queued behind it
    assert second["turn"]["result"] == "staging-eu" and second["turn"]["index"] == 2
    assert streamed_text(updates_of(client, sid, mark)) == "staging-eu" * 2
    assert client.unmatched.empty()
    listed = await client.list_sessions(cwd=str(tmp_path))
    assert [(s["sessionId"], s["title"], s["numTurns"], s["live"]) for s in listed] == [
        (sid, "deploys", 3, True)
    ]
    trajectory = await client.end(sid)
    assert [t["input"] for t in trajectory["turns"]] == [
        "My deploy target is staging-eu. Remember that."
    ] + ["Where am I deploying?"] * 2
    with pytest.raises(RpcError) as gone:
        await client.send(sid, "Still there?")
    assert gone.value.kind == "unknownSession"


async def test_daemon_killed_then_a_new_daemon_resumes_from_the_handle(
    provider, env, scripted, spawn_daemon, tmp_path
):
    data = tmp_path / "data"
    first = await spawn_daemon("--data-dir", str(data), "--log-level", "debug", env=env)
    sid = (await first.start_session(provider=provider))["sessionId"]
    answer = await first.send(sid, "My deploy target is staging-eu. Remember that.")
    handle = answer["resumeHandle"]
    children = backends(first)
    assert cli_pids(first, provider), "the backend runs under the daemon"

    os.kill(first.pid, signal.SIGKILL)
    assert await first.wait_closed() == -signal.SIGKILL
    wait_until(
        lambda: not any(alive(pid) for pid in children), what="the killed daemon's backends to end"
    )

    second = await spawn_daemon("--data-dir", str(data), "--log-level", "debug", env=env)
    resumed = await second.resume(handle=handle)
    assert resumed["sessionId"] == sid and resumed["provider"] == provider
    assert [t["result"] for t in resumed["turns"]] == ["Noted: deploy target is staging-eu."]
    recalled = await second.send(sid, "Where am I deploying?")
    assert recalled["turn"]["result"] == "staging-eu"
    assert recalled["turn"]["index"] == 1

    stored = json.loads((data / "sessions" / sid / "trajectory.json").read_text())
    assert [t["input"] for t in stored["turns"]] == [
        "My deploy target is staging-eu. Remember that.",
        "Where am I deploying?",
    ]

    # A bare session id resumes too, since the data dir knows its key.
    await second.end(sid)
    again = await second.resume(session_id=sid)
    assert len(again["turns"]) == 2
    assert (await second.send(sid, "Where am I deploying?"))["turn"]["result"] == "staging-eu"


@pytest.mark.parametrize(
    "how", ["session/cancel", "$/cancelRequest", "window/workDoneProgress/cancel"]
)
async def test_cancel_a_slow_turn(provider, env, scripted, spawn_daemon, how):
    client = await spawn_daemon("--no-data-dir", "--log-level", "debug", env=env)
    sid = (await client.start_session(provider=provider))["sessionId"]
    mark = len(client.notifications)
    text = "[[slow:30]] Repeat after me: one two three four five six seven eight nine ten"
    pending = client.start_send(sid, text, workDoneToken=7)
    await wait_update(client, sid, mark)
    if how == "session/cancel":
        assert await client.cancel(sid) is True
    elif how == "$/cancelRequest":
        client.cancel_request(pending.id)
    else:
        client.notify(how, {"token": 7})
    with pytest.raises(RpcError) as cancelled:
        await asyncio.wait_for(pending.future, TURN)
    assert cancelled.value.code == -32800
    if how != "$/cancelRequest":  # the turn ended by itself, so its partial record comes along
        assert cancelled.value.kind == "cancelled"
        assert cancelled.value.data["turn"]["stopReason"] == "cancelled"
        assert cancelled.value.data["turn"]["input"] == text
    progress = [p["value"]["kind"] for m, p in client.notifications[mark:] if m == "$/progress"]
    assert progress[0] == "begin" and progress[-1] == "end"
    assert await client.cancel(sid) is False  # nothing runs any more
    after = await client.send(sid, "Repeat after me: still here")
    assert after["turn"]["result"] == "still here"


async def test_idle_backend_is_reaped_and_the_next_send_resumes(
    provider, env, scripted, spawn_daemon
):
    client = await spawn_daemon(
        "--no-data-dir", "--idle-timeout", "1", "--log-level", "debug", env=env
    )
    sid = (await client.start_session(provider=provider))["sessionId"]
    mark = len(client.notifications)
    await client.send(sid, "My favorite color is teal. Remember that.")
    await client.wait_for_notification(
        "window/logMessage",
        lambda p: sid in p["message"] and "backend stopped" in p["message"],
        timeout=TURN,
        start=mark,
    )
    if provider == "claude_code":  # one process per conversation: it is gone
        wait_until(lambda: not cli_pids(client, provider), what="the idle claude process to end")
    answer = await client.send(sid, "What is my favorite color?")
    assert answer["turn"]["result"] == "teal"


async def test_twenty_concurrent_sessions_do_not_mix(provider, env, scripted, spawn_daemon):
    client = await spawn_daemon("--no-data-dir", env=env)
    count = 20
    starts = await asyncio.gather(*(client.start_session(provider=provider) for _ in range(count)))
    sids = [s["sessionId"] for s in starts]
    assert len(set(sids)) == count
    firsts = await asyncio.wait_for(
        asyncio.gather(
            *(
                client.send(sid, f"My secret word is word{i}x. Remember that.")
                for i, sid in enumerate(sids)
            )
        ),
        4 * TURN,
    )
    assert [a["turn"]["result"] for a in firsts] == [
        f"Noted: secret word is word{i}x." for i in range(count)
    ]
    mark = len(client.notifications)
    seconds = await asyncio.wait_for(
        asyncio.gather(*(client.send(sid, "What is my secret word?") for sid in sids)), 4 * TURN
    )
    assert [a["turn"]["result"] for a in seconds] == [f"word{i}x" for i in range(count)]
    for i, sid in enumerate(sids):  # each session's stream carries its own answer only
        assert streamed_text(updates_of(client, sid, mark)) == f"word{i}x"
    await asyncio.gather(*(client.end(sid) for sid in sids))


async def test_sends_to_one_session_run_in_order(provider, env, scripted, spawn_daemon):
    client = await spawn_daemon("--no-data-dir", env=env)
    sid = (await client.start_session(provider=provider))["sessionId"]
    busy = client.start_send(sid, "[[slow:2]] Repeat after me: first")
    await wait_update(client, sid, 0)
    with pytest.raises(RpcError) as refused:
        await client.send(sid, "Repeat after me: never", exclusive=True)
    assert refused.value.kind == "sessionBusy"
    queued = [client.start_send(sid, f"Repeat after me: number {n}") for n in range(3)]
    answers = await asyncio.wait_for(asyncio.gather(busy.future, *(q.future for q in queued)), TURN)
    assert [a["turn"]["result"] for a in answers] == ["first", "number 0", "number 1", "number 2"]
    assert [a["turn"]["index"] for a in answers] == [0, 1, 2, 3]


@pytest.mark.parametrize("ending", ["end of input", "shutdown and exit"])
async def test_no_backend_survives_the_daemon(provider, env, scripted, spawn_daemon, ending):
    client = await spawn_daemon("--no-data-dir", env=env)
    idle = (await client.start_session(provider=provider))["sessionId"]
    await client.send(idle, "Repeat after me: ready")
    running = (await client.start_session(provider=provider))["sessionId"]
    mark = len(client.notifications)
    pending = client.start_send(
        running, "[[slow:30]] Repeat after me: this turn is cut short by the daemon ending"
    )
    await wait_update(client, running, mark)
    children = backends(client)
    assert cli_pids(client, provider)
    if ending == "end of input":
        client.process.close_stdin()
    else:
        await client.shutdown()
        client.exit()
    assert await client.wait_closed() == 0
    with pytest.raises((RpcError, DaemonGone)):  # cancelled, or the daemon went first
        await pending.future
    wait_until(lambda: not any(alive(pid) for pid in children), what="every backend process to end")


async def test_list_and_did_change_see_sessions_of_other_processes(
    cli_env, scripted, spawn_daemon, tmp_path
):
    env = cli_env("claude_code")
    data = tmp_path / "data"
    client = await spawn_daemon("--data-dir", str(data), env=env)
    mine = (await client.start_session(provider="claude_code", cwd=str(tmp_path)))["sessionId"]
    await client.wait_for_notification(
        "session/didChange", lambda p: p["sessionId"] == mine, timeout=TURN
    )

    # Another process writes a session into the same data dir through the library.
    mark = len(client.notifications)
    agent = AsyncAgent(provider="claude_code", data_dir=data, env=env, cwd=tmp_path)
    other = await agent.start_session()
    try:
        await other.send("Repeat after me: from elsewhere")
    finally:
        await other.end()
    await client.wait_for_notification(
        "session/didChange", lambda p: p["sessionId"] == other.session_id, timeout=TURN, start=mark
    )

    listed = {s["sessionId"]: s for s in await client.list_sessions()}
    assert listed[mine]["live"] is True and listed[mine]["numTurns"] == 0
    assert listed[other.session_id]["live"] is False and listed[other.session_id]["numTurns"] == 1
    assert listed[other.session_id]["title"] == "Repeat after me: from elsewhere"
    assert all("resumeHandle" not in s and "handle" not in s for s in listed.values())
    assert await client.list_sessions(cwd=str(Path(tmp_path) / "elsewhere")) == []
