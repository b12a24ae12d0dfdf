"""3. Resume: a fresh caw-server's ``session/resume`` -> first answer, against a warm session's turn.

Per repetition: daemon A starts a session with a data dir, is told a code word,
runs a few warm turns, hands out its resume handle and shuts down. A fresh
daemon B is spawned (timed apart), ``session/resume`` gets the handle, and the
first ``session/send`` must answer the code word from the earlier turn.

For scale, the same with the bare CLI: a new claude process with ``--resume``,
a new codex app-server with ``thread/resume``, a new opencode serve continuing
the ``ses_`` id, each until its first answer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from harness import (
    FLOOR,
    DriverError,
    Run,
    echo_message,
    environment,
    log,
    start_driver,
    summary,
    variant,
)

WARM_TURNS = 3
SEND_TIMEOUT = 180.0


def run(run: Run) -> dict[str, Any]:
    server = run.model_server(0.0)
    out: dict[str, Any] = {}
    for provider in run.deep_providers:
        out[provider] = run_provider(run, provider, server)
    return out


def run_provider(run: Run, provider: str, server) -> dict[str, Any]:
    home = run.root / "resume" / provider / "server"
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    env = environment(provider, server.base_url, home)
    reps, floor = [], []
    for rep in range(run.resume_reps):
        try:
            reps.append(asyncio.run(_server_rep(provider, env, str(work), str(home / "data"))))
        except Exception as exc:
            run.error(f"resume {provider} caw-server rep {rep}", exc)
        if FLOOR in run.variants:
            try:
                floor.append(_floor_rep(run, provider, server))
            except DriverError as exc:
                run.error(f"resume {provider} floor rep {rep}", exc)
    result: dict[str, Any] = {
        "server": {k: summary([r[k] for r in reps]) for k in (reps[0] if reps else {})}
    }
    if floor:
        result["floor"] = {k: summary([r[k] for r in floor]) for k in floor[0]}
    if reps:
        s = result["server"]
        log(f"resume {provider}: daemon start {s['daemon_start']['median']:.2f} s, resume -> first answer "
            f"{s['resume_to_answer']['median']:.3f} s, warm turn {s['warm_turn']['median']:.3f} s")  # fmt: skip
    return result


async def _send(client, session_id: str, text: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    answer = await asyncio.wait_for(client.send(session_id, text), SEND_TIMEOUT)
    return answer, time.monotonic() - started


async def _server_rep(provider: str, env: dict[str, str], work: str, data: str) -> dict[str, float]:
    from caw.client import CawClient

    word = "w" + uuid.uuid4().hex[:8]
    args = ["--data-dir", data]
    first = await CawClient.spawn(*args, env=env, cwd=work)
    warm = []
    try:
        await first.initialize()
        session_id = (await first.start_session(provider=provider, cwd=work))["sessionId"]
        answer, _ = await _send(first, session_id, f"My code word is {word}. Remember that.")
        for _ in range(WARM_TURNS):
            message, expected, _ = echo_message()
            answer, seconds = await _send(first, session_id, message)
            if answer["turn"]["result"].strip() != expected:
                raise RuntimeError(f"wrong answer {answer['turn']['result']!r}")
            warm.append(seconds)
        handle = answer["resumeHandle"]
    finally:
        await first.aclose()

    spawned = time.monotonic()
    fresh = await CawClient.spawn(*args, env=env, cwd=work)
    try:
        await fresh.initialize()
        initialized = time.monotonic()
        resumed = await fresh.resume(handle=handle, cwd=work)
        resumed_at = time.monotonic()
        answer, first_send = await _send(fresh, resumed["sessionId"], "What is my code word?")
        answered = time.monotonic()
        if word not in answer["turn"]["result"]:
            raise RuntimeError(
                f"the resumed session answered {answer['turn']['result']!r}, not the code word"
            )
        message, expected, _ = echo_message()
        answer, again = await _send(fresh, resumed["sessionId"], message)
    finally:
        await fresh.aclose()
    return {
        "daemon_start": initialized - spawned,
        "resume_call": resumed_at - initialized,
        "first_send": first_send,
        "resume_to_answer": answered - initialized,
        "spawn_to_answer": answered - spawned,
        "next_turn": again,
        "warm_turn": sorted(warm)[len(warm) // 2],
    }


def _floor_rep(run: Run, provider: str, server) -> dict[str, float]:
    word = "w" + uuid.uuid4().hex[:8]
    v = variant(FLOOR, provider, None)
    first = start_driver(run, v, server.base_url, "resume-floor", f"resume-floor-{provider}-a")
    try:
        key = first.call("open")["key"]
        first.call("turn", text=f"My code word is {word}. Remember that.", timeout=SEND_TIMEOUT)
        warm = [
            first.call("turn", text=echo_message()[0], timeout=SEND_TIMEOUT)["seconds"]
            for _ in range(WARM_TURNS)
        ]
    finally:
        first.close()
    fresh = start_driver(run, v, server.base_url, "resume-floor", f"resume-floor-{provider}-b")
    try:
        opened = fresh.call("open", resume=key, timeout=120)
        answer = fresh.call("turn", text="What is my code word?", timeout=SEND_TIMEOUT)
        if word not in answer["text"]:
            raise DriverError(f"the resumed CLI answered {answer['text']!r}, not the code word")
        again = fresh.call("turn", text=echo_message()[0], timeout=SEND_TIMEOUT)
    finally:
        fresh.close()
    return {
        "resume_to_answer": opened["seconds"] + answer["seconds"],
        "next_turn": again["seconds"],
        "warm_turn": sorted(warm)[len(warm) // 2],
    }
