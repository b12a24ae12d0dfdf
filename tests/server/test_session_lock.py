"""Two daemons on one session: one writer at a time (issue 21, finding 3).

Before, a second daemon resumed a session the first had open: claude forked the conversation,
opencode kept only the last writer's turns, and trajectory.json kept one side. Now the second
daemon is refused with sessionBusy, starts no backend and writes nothing, until the first ends
the session or dies (kill -9 frees the lock at once). Real CLIs, the scripted model server.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from caw.client import CawClient, RpcError
from caw.providers import provider_class
from tests.support.procs import alive, descendants, wait_until

pytestmark = pytest.mark.e2e

REMEMBER = "My deploy target is staging-eu. Remember that."
RECALL = "Where am I deploying?"


def cli_pids(client: CawClient, provider: str) -> list[int]:
    cli = provider_class(provider).cli
    assert client.pid is not None, "a spawned daemon has a pid"
    # (a `--version` probe, which the daemon runs in the background after initialize, is no backend)
    return [
        pid for pid, cmd in descendants(client.pid).items() if cli in cmd and "--version" not in cmd
    ]


async def assert_busy(client: CawClient, holder: CawClient, **resume: str) -> None:
    with pytest.raises(RpcError) as busy:
        await client.resume(**resume)
    assert busy.value.kind == "sessionBusy", busy.value
    assert f"open in another caw process (pid {holder.pid})" in busy.value.message


async def test_a_session_has_one_daemon_at_a_time(
    provider, cli_env, scripted, spawn_daemon, tmp_path
):
    env = cli_env(provider)
    data = tmp_path / "data"
    first = await spawn_daemon("--data-dir", str(data), env=env)
    second = await spawn_daemon("--data-dir", str(data), env=env)
    sid = (await first.start_session(provider=provider, cwd=str(tmp_path)))["sessionId"]
    handle = (await first.send(sid, REMEMBER))["resumeHandle"]
    stored = data / "sessions" / sid / "trajectory.json"
    before = stored.read_bytes()

    await assert_busy(second, first, session_id=sid)
    await assert_busy(second, first, handle=handle)
    assert not cli_pids(second, provider), "a refused resume starts no backend"
    assert stored.read_bytes() == before, "a refused resume writes nothing"
    assert (await first.send(sid, RECALL))["turn"]["result"] == "staging-eu"

    await first.end(sid)  # ending frees the session for the other daemon
    resumed = await second.resume(session_id=sid)
    assert [t["input"] for t in resumed["turns"]] == [REMEMBER, RECALL]
    assert (await second.send(sid, RECALL))["turn"]["result"] == "staging-eu"
    await assert_busy(first, second, session_id=sid)

    backends = descendants(second.pid)
    os.kill(second.pid, signal.SIGKILL)  # a dead holder's lock is taken over
    await second.wait_closed()
    wait_until(
        lambda: not any(alive(p) for p in backends), what="the killed daemon's backends to end"
    )
    again = await first.resume(session_id=sid)
    assert len(again["turns"]) == 3
    assert (await first.send(sid, RECALL))["turn"]["result"] == "staging-eu"
    turns = json.loads(stored.read_text())["turns"]
    assert [t["input"] for t in turns] == [REMEMBER, RECALL, RECALL, RECALL], "no turn was lost"
