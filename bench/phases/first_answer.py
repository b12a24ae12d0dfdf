"""7. The first answer (issue 20): a cold daemon, a new chat, a reopened editor, 50 idle sessions.

- **cold daemon**: ``caw-server`` spawned -> ``initialize`` answered, against
  ``python -c "import pygls.lsp.server"`` (the import every pygls server pays), interleaved.
- **new chat**: in a running daemon whose workspace already had a session, ``session/start``
  + the first ``session/send`` (model at 0 ms), a second after the previous one (a person),
  against that daemon's warm turn; with standby backends (the default) and with
  ``--standby 0`` (what a new chat cost before); and a warm turn after the same pause (what
  the pause alone costs a turn). All interleaved rep by rep: each rep's new chats, then its
  warm turns, so that the ratios compare turns taken under the same load.
- **reopened editor**: a fresh daemon resumes a recorded session as the workspace opens;
  the first send comes 1 s later (a person typing): timed from the send to its answer;
  and with no gap: from ``session/resume`` to the answer.
- **idle sessions**: the same new chat and warm turns, interleaved rep by rep, in a daemon
  holding ``idle_sessions`` live sessions (each answered once), with the daemon's and the
  backends' memory.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from typing import Any

from harness import Run, cpu_between, echo_message, environment, log, sample_tree, summary

from phases.concurrency import memory

SEND_TIMEOUT = 300.0
PERSON = 1.0  # seconds between a workspace opening (or a chat ending) and the next message


def run(run: Run) -> dict[str, Any]:
    out: dict[str, Any] = {"cold": _cold(run)}
    server = run.model_server(0.0)
    # Quick mode (CI) keeps to one provider: the harness working is all it shows.
    providers = run.deep_providers[:1] if run.quick else run.deep_providers
    for name, measure in (("new_chat", _new_chat), ("reopened", _reopened), ("idle", _idle)):
        out[name] = {}
        for provider in providers:
            home = run.root / "first" / name / provider
            work = home / "work"
            work.mkdir(parents=True, exist_ok=True)
            env = environment(provider, server.base_url, home)
            try:
                out[name][provider] = asyncio.run(measure(run, provider, env, str(work), home))
            except Exception as exc:
                run.error(f"first answer {name} {provider}", exc)
    return out


# --- cold daemon ---------------------------------------------------------------------------


def _cold(run: Run) -> dict[str, Any]:
    pygls, daemon = [], []
    data = run.root / "first" / "cold-data"
    for _ in range(run.cold_reps):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "import pygls.lsp.server"], check=True)
        pygls.append(time.monotonic() - started)
        daemon.append(asyncio.run(_spawn_initialize(str(data))))
    out = {"pygls": summary(pygls), "daemon": summary(daemon)}
    out["ratio"] = out["daemon"]["median"] / out["pygls"]["median"]
    log(f"cold daemon: initialize after {out['daemon']['median']:.3f} s, pygls import "
        f"{out['pygls']['median']:.3f} s ({out['ratio']:.2f}x)")  # fmt: skip
    return out


async def _spawn_initialize(data: str) -> float:
    from caw.client import CawClient

    started = time.monotonic()
    client = await CawClient.spawn("--data-dir", data)
    try:
        await client.initialize()
        return time.monotonic() - started
    finally:
        await client.aclose(timeout=60)


# --- helpers -------------------------------------------------------------------------------


async def _turn(client: Any, session_id: str) -> float:
    message, expected, _ = echo_message()
    started = time.monotonic()
    answer = await asyncio.wait_for(client.send(session_id, message), SEND_TIMEOUT)
    seconds = time.monotonic() - started
    if answer["turn"]["result"].strip() != expected:
        raise RuntimeError(f"wrong answer {answer['turn']['result']!r}")
    return seconds


async def _chat(client: Any, provider: str, work: str) -> tuple[str, float, float]:
    """A new chat: session/start + its first send, timed together, and its send alone."""
    message, expected, _ = echo_message()
    started = time.monotonic()
    session_id = (await client.start_session(provider=provider, cwd=work))["sessionId"]
    sent = time.monotonic()
    answer = await asyncio.wait_for(client.send(session_id, message), SEND_TIMEOUT)
    answered = time.monotonic()
    if answer["turn"]["result"].strip() != expected:
        raise RuntimeError(f"wrong answer {answer['turn']['result']!r}")
    return session_id, answered - started, answered - sent


WARM_UP_TURNS = 2  # a CLI's second and third turns still compile code (claude): not "warm"
QUIET_CPU = 0.05  # the daemon's tree uses under 5% of a core: standbys started, probes done


async def _settle(client: Any, session_id: str) -> None:
    """Once the daemon's tree is quiet (a standby starting beside a turn would slow it), the
    session's WARM_UP_TURNS unmeasured turns."""
    await _quiet(client.pid)
    for _ in range(WARM_UP_TURNS):
        await _turn(client, session_id)


async def _warm(client: Any, session_id: str, turns: int) -> list[float]:
    """Warm turns as the per-turn table takes them: each 50 ms after the session's previous
    turn (which the caller has just taken)."""
    times = []
    for _ in range(turns):
        await asyncio.sleep(0.05)
        times.append(await _turn(client, session_id))
    return times


async def _quiet(pid: int | None, timeout: float = 20.0) -> None:
    """Wait until the process tree under ``pid`` uses under QUIET_CPU of a core for 0.3 s."""
    assert pid is not None, "a spawned daemon has a pid"
    deadline = time.monotonic() + timeout
    before = sample_tree(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        after = sample_tree(pid)
        used = cpu_between(before, after)
        if (used["daemon_cpu"] + used["backends_cpu"]) / used["wall"] < QUIET_CPU:
            return
        before = after


# --- new chat ------------------------------------------------------------------------------


async def _new_chat(run: Run, provider: str, env: dict[str, str], work: str, home: Any) -> dict:
    from caw.client import CawClient

    columns: dict[str, list[float]] = {
        "standby": [], "no_standby": [], "standby_send": [], "warm_after_pause": [],
    }  # fmt: skip
    clients = {
        "standby": await CawClient.spawn("--data-dir", str(home / "data-a"), env=env, cwd=work),
        "no_standby": await CawClient.spawn(
            "--data-dir", str(home / "data-b"), "--standby", "0", env=env, cwd=work
        ),
    }
    warm: list[float] = []
    firsts: dict[str, str] = {}
    try:
        for name, client in clients.items():
            await client.initialize()
            first, _, _ = await _chat(client, provider, work)  # the workspace's first session
            firsts[name] = first
            await _settle(client, first)
        for rep in range(run.first_reps):
            order = list(clients) if rep % 2 == 0 else list(reversed(clients))
            for name in order:
                await asyncio.sleep(PERSON)
                session_id, seconds, send = await _chat(clients[name], provider, work)
                columns[name].append(seconds)
                if name == "standby":  # the first turn alone, on the backend started ahead
                    columns["standby_send"].append(send)
                await clients[name].end(session_id)
            # A warm turn after the same pause as a new chat's, once the daemon is quiet again:
            # what a person's pause alone costs a turn, to tell it from a first turn's cost;
            # then the warm turns the new chat is held against, each 50 ms after the last.
            standby, first = clients["standby"], firsts["standby"]
            await _quiet(standby.pid)
            await asyncio.sleep(PERSON)
            columns["warm_after_pause"].append(await _turn(standby, first))
            warm += await _warm(standby, first, run.first_turns)
    finally:
        for client in clients.values():
            await client.aclose(timeout=120)
    out = {name: summary(values) for name, values in columns.items()}
    out["warm"] = summary(warm)
    out["ratio"] = out["standby"]["median"] / out["warm"]["median"]
    log(f"new chat {provider}: {out['standby']['median']:.3f} s with standby, "
        f"{out['no_standby']['median']:.3f} s without; warm turn {out['warm']['median']:.3f} s "
        f"({out['ratio']:.2f}x), after a {PERSON:g} s pause {out['warm_after_pause']['median']:.3f} s")  # fmt: skip
    return out


# --- reopened editor -----------------------------------------------------------------------


async def _reopened(run: Run, provider: str, env: dict[str, str], work: str, home: Any) -> dict:
    from caw.client import CawClient

    gap, no_gap, warm, resume_call = [], [], [], []
    data = str(home / "data")
    for _ in range(run.first_reps):
        word = "w" + uuid.uuid4().hex[:8]
        first = await CawClient.spawn("--data-dir", data, env=env, cwd=work)
        try:
            await first.initialize()
            session_id = (await first.start_session(provider=provider, cwd=work))["sessionId"]
            answer = await asyncio.wait_for(
                first.send(session_id, f"My code word is {word}. Remember that."), SEND_TIMEOUT
            )
            handle = answer["resumeHandle"]
        finally:
            await first.aclose(timeout=120)
        for pause in (PERSON, 0.0):
            fresh = await CawClient.spawn("--data-dir", data, env=env, cwd=work)
            try:
                await fresh.initialize()
                started = time.monotonic()
                await fresh.resume(handle=handle, cwd=work)
                resumed = time.monotonic()
                await asyncio.sleep(pause)
                sent = time.monotonic()
                answer = await asyncio.wait_for(
                    fresh.send(session_id, "What is my code word?"), SEND_TIMEOUT
                )
                answered = time.monotonic()
                if word not in answer["turn"]["result"]:
                    raise RuntimeError(f"the resumed session answered {answer['turn']['result']!r}")
                if pause:
                    gap.append(answered - sent)
                    resume_call.append(resumed - started)
                    await _settle(fresh, session_id)
                    warm += await _warm(fresh, session_id, run.first_turns)
                else:
                    no_gap.append(answered - started)
            finally:
                await fresh.aclose(timeout=120)
    out = {
        "send_after_gap": summary(gap), "resume_to_answer": summary(no_gap),
        "resume_call": summary(resume_call), "warm": summary(warm),
    }  # fmt: skip
    out["ratio"] = out["send_after_gap"]["median"] / out["warm"]["median"]
    log(f"reopened editor {provider}: send 1 s after resume {out['send_after_gap']['median']:.3f} s, "
        f"resume -> answer {out['resume_to_answer']['median']:.3f} s, warm {out['warm']['median']:.3f} s "
        f"({out['ratio']:.2f}x)")  # fmt: skip
    return out


# --- idle sessions -------------------------------------------------------------------------


async def _idle(run: Run, provider: str, env: dict[str, str], work: str, home: Any) -> dict:
    from caw.client import CawClient

    client = await CawClient.spawn("--data-dir", str(home / "data"), env=env, cwd=work)
    try:
        await client.initialize()
        assert client.pid is not None, "a spawned daemon has a pid"
        idle = []
        for _ in range(run.idle_sessions):  # one by one: a person's sessions, not a burst
            session_id, _, _ = await _chat(client, provider, work)
            idle.append(session_id)
        sample = sample_tree(client.pid)
        await _settle(client, idle[0])
        warm: list[float] = []
        chats = []
        for _ in range(run.first_reps):
            await asyncio.sleep(PERSON)
            session_id, seconds, _ = await _chat(client, provider, work)
            chats.append(seconds)
            await client.end(session_id)
            # The warm turns of this rep, on a quiet daemon, each 50 ms after the turn before.
            await _quiet(client.pid)
            await _turn(client, idle[0])
            warm += await _warm(client, idle[0], run.first_turns)
    finally:
        await client.aclose(timeout=300)
    out: dict[str, Any] = {
        "sessions": len(idle), "memory": memory(sample), "warm": summary(warm),
        "new_chat": summary(chats),
    }  # fmt: skip
    out["ratio"] = out["new_chat"]["median"] / out["warm"]["median"]
    mib = 1 / (1 << 20)
    log(f"{len(idle)} idle {provider} sessions: daemon {sample.daemon_rss * mib:.0f} MiB, backends "
        f"{sample.backends_rss * mib:.0f} MiB ({sample.backends} processes); new chat "
        f"{out['new_chat']['median']:.3f} s, warm {out['warm']['median']:.3f} s")  # fmt: skip
    return out
