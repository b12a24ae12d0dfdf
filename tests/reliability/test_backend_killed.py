"""A backend CLI SIGKILLed mid-turn, for each provider, through caw-server.

The pending session/send fails with the backend-failed error naming the exit; the next
send on the same session answers from the earlier history; the data dir holds every
completed turn. For codex and opencode the killed process is the shared backend server,
so a second session of the same provider must recover too.
"""

from __future__ import annotations

import asyncio
import json
import signal

import pytest

from caw.client import CawClient, RpcError
from caw.providers import provider_class
from tests.support.procs import alive, descendants, kill, wait_until

from .conftest import TURN

pytestmark = [pytest.mark.e2e, pytest.mark.reliability("backend-killed")]


def backend_pids(client: CawClient, provider: str, session_id: str) -> list[int]:
    """The process serving ``session_id``: its own claude, or the shared codex/opencode server."""
    cli = provider_class(provider).cli
    assert client.pid is not None, "the daemon is not running"
    daemon = client.pid
    found = [pid for pid, cmd in descendants(daemon).items() if cli in cmd.split(" ", 1)[0]]
    if provider == "claude_code":
        found = [
            pid
            for pid, cmd in descendants(daemon).items()
            if cli in cmd.split(" ", 1)[0] and session_id in cmd
        ]
    return found


async def test_backend_killed_mid_turn(
    provider, cli_env, scripted, leaks, tmp_path, record_property
):
    data = tmp_path / "data"
    client = await leaks.daemon(data, cli_env(provider), tmp_path)
    try:
        await client.initialize()
        a = (await client.start_session(provider=provider))["sessionId"]
        b = (await client.start_session(provider=provider))["sessionId"]
        await client.send(a, "My deploy target is staging-eu. Remember that.")
        await client.send(b, "My pet is a heron. Remember that.")

        mark = len(client.notifications)
        pending = client.start_send(
            a, "[[slow:30]] Repeat after me: this turn never ends because its backend is killed"
        )
        await client.wait_for_notification(
            "session/update", lambda p: p["sessionId"] == a, timeout=TURN, start=mark
        )
        victims = backend_pids(client, provider, a)
        assert victims, f"no {provider} backend process under the daemon: {descendants(client.pid)}"
        kill(victims, signal.SIGKILL)

        with pytest.raises(RpcError) as failed:
            await asyncio.wait_for(pending.future, TURN)
        leaks.error(failed.value)
        assert failed.value.kind == "backendFailed", failed.value
        assert (
            failed.value.data.get("exitCode") == -signal.SIGKILL
            or "SIGKILL" in failed.value.message
        ), failed.value
        wait_until(
            lambda: not any(alive(pid) for pid in victims), what="the killed backend to be reaped"
        )

        # the same session goes on from its history, on a new backend process
        assert (await asyncio.wait_for(client.send(a, "Where am I deploying?"), TURN))["turn"][
            "result"
        ] == "staging-eu"
        assert set(backend_pids(client, provider, a)).isdisjoint(victims)
        # so does the other session (for codex and opencode it lost its shared server too)
        assert (await asyncio.wait_for(client.send(b, "What is my pet?"), TURN))["turn"][
            "result"
        ] == "a heron"

        killed = "[[slow:30]] Repeat after me: this turn never ends because its backend is killed"
        for sid, turns in (
            (
                a,
                [
                    ("completed", "My deploy target is staging-eu. Remember that."),
                    ("failed", killed),  # kept as failed with its error (1.2), never as an answer
                    ("completed", "Where am I deploying?"),
                ],
            ),
            (
                b,
                [
                    ("completed", "My pet is a heron. Remember that."),
                    ("completed", "What is my pet?"),
                ],
            ),
        ):
            stored = json.loads((data / "sessions" / sid / "trajectory.json").read_text())
            assert [(t["status"], t["input"]) for t in stored["turns"]] == turns
    finally:
        await client.aclose()
    record_property(
        "lost",
        "the answer of the turn that was running (its send fails with backendFailed and it is"
        " recorded as failed; resend it)",
    )
