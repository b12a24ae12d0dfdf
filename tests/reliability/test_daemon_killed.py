"""caw-server SIGKILLed while turns run on all three providers.

No backend survives it (the daemon's descendants, and any process still carrying the
test's private HOME in its environment: codex app-server and opencode serve included).
A new daemon resumes every session from its handle; trajectory.json is valid JSON with
every completed turn and nothing twice; traj.jsonl stays valid JSON lines.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest

from tests.support.procs import alive, descendants, wait_until

from .conftest import PROVIDERS, TURN

pytestmark = [pytest.mark.e2e, pytest.mark.reliability("daemon-killed")]


def processes_with_env(needle: str) -> dict[int, str]:
    """Live processes whose environment mentions ``needle`` (catches orphans re-parented to init)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = (
                Path(f"/proc/{entry}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
            )
        except OSError:
            continue
        if needle.encode() in environ and stat[stat.rindex(")") + 2] != "Z":
            found[int(entry)] = cmd
    return found


async def test_daemon_killed_mid_turn_then_a_new_daemon_resumes_everything(
    all_env, scripted, leaks, tmp_path, record_property
):
    data = tmp_path / "data"
    first = await leaks.daemon(data, all_env, tmp_path)
    completed: dict[str, list[str]] = {}  # session id -> inputs of its completed turns
    handles: dict[str, str] = {}
    facts: dict[str, str] = {}
    running = []
    try:
        await first.initialize()

        async def prepare(provider: str, n: int) -> None:
            sid = (await first.start_session(provider=provider))["sessionId"]
            fact = f"{provider}-{n}-place"
            inputs = [
                f"My deploy target is {fact}. Remember that.",
                f"Repeat after me: turn two of {n}",
            ]
            for text in inputs:
                handles[sid] = (await first.send(sid, text))["resumeHandle"]
            completed[sid], facts[sid] = inputs, fact
            if n == 1:  # this one is mid-turn when the daemon dies
                mark = len(first.notifications)
                running.append(
                    first.start_send(
                        sid, "[[slow:60]] Repeat after me: a turn the daemon never finishes"
                    )
                )
                await first.wait_for_notification(
                    "session/update", lambda p: p["sessionId"] == sid, timeout=TURN, start=mark
                )

        await asyncio.wait_for(
            asyncio.gather(*(prepare(p, n) for p in PROVIDERS for n in (0, 1))), 4 * TURN
        )
        children = descendants(first.pid)
        for needle in ("claude", "app-server", "opencode serve"):
            assert any(needle in cmd for cmd in children.values()), (
                f"no {needle} under the daemon: {children}"
            )

        os.kill(first.pid, signal.SIGKILL)
        assert await first.wait_closed() == -signal.SIGKILL
        wait_until(
            lambda: not any(alive(pid) for pid in children),
            timeout=30,
            what="every backend of the killed daemon to end",
        )
        home = all_env["HOME"]
        assert not processes_with_env(home), (
            f"processes outlived the daemon: {processes_with_env(home)}"
        )
        for pending in running:
            assert pending.future.done() and pending.future.exception() is not None
    finally:
        await first.aclose()

    second = await leaks.daemon(data, all_env, tmp_path)
    try:
        await second.initialize()

        async def check(sid: str) -> None:
            resumed = await second.resume(handle=handles[sid])
            assert resumed["sessionId"] == sid
            assert [t["input"] for t in resumed["turns"]] == completed[sid], (
                "exactly the completed turns, once each"
            )
            answer = await second.send(sid, "Where am I deploying?")
            assert answer["turn"]["result"] == facts[sid]
            assert answer["turn"]["index"] == len(completed[sid])

        await asyncio.wait_for(asyncio.gather(*(check(sid) for sid in completed)), 4 * TURN)
    finally:
        await second.aclose()

    for sid, inputs in completed.items():
        folder = data / "sessions" / sid
        stored = json.loads((folder / "trajectory.json").read_text())  # valid JSON
        assert [t["input"] for t in stored["turns"]] == [*inputs, "Where am I deploying?"]
        assert [t["index"] for t in stored["turns"]] == list(range(len(inputs) + 1))
        records = [
            json.loads(line) for line in (folder / "traj.jsonl").read_text().splitlines()
        ]  # valid JSON lines
        ends = [r["turn"] for r in records if r.get("type") == "turn_end"]
        assert ends == list(range(1, len(inputs) + 2)), (
            f"each completed turn ends once in traj.jsonl: {ends}"
        )
        for number, text in enumerate([*inputs, "Where am I deploying?"], 1):
            assert (folder / "turns" / f"{number:03d}_input.txt").read_text() == text
    record_property("cases", len(completed))
    record_property("lost", "the turns running at the kill (their sends fail; resend them)")
