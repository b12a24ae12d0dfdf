#!/usr/bin/env python3
"""Where opencode's warm turn through caw differs from the floor's (issue 20), on one serve.

    .venv/bin/python bench/opencode_gap.py [ROUNDS]

Three sessions share one ``opencode serve`` (so the serve's own state is the same for all),
interleaved round by round against caw's scripted model server:

- ``ask``: a caw session in caw-server's default permission mode (its session carries the
  rules ``* ask`` plus the read-only tools allowed);
- ``bypass``: a caw session whose rules allow everything (the library's default);
- ``floor``: a session made with ``POST /session {}`` and driven as the floor driver does,
  one blocking ``POST /session/{id}/message`` with the text alone.

Printed per column: the turn's median, the median of its ``POST /session/{id}/message``
alone (opencode's own time) and, for caw's columns, the median of turn minus POST: what caw
adds (building the request, reading the event stream, ending the turn). ask's POST against
floor's is what the permission rules cost inside opencode; a session's POST times swing by
tens of ms between runs on a loaded machine, caw's own time does not, so compare that.

Findings (2026-11-30, load 3.5-6 on 2 cores): the rules and caw's message id cost nothing
measurable inside opencode (POST medians ask / bypass / floor within +-10 ms, either order
from run to run); caw waited for the event stream to deliver the answer's end after the POST
returned, which lags it by 5-14 ms (39 ms at load 15), and now ends the turn with the POST.
What is left between bench/run.py's floor and caw-server columns is caw's own time (2.5-3 ms
without a data dir, 5-8 ms with one, at load 4-15) and each column's serve being a process
of its own: four identical serves, driven alike and interleaved, had medians 109-130 ms at
load 7-9, their order changing between the first and second half of the run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any
from unittest.mock import patch


async def main(rounds: int) -> None:
    from caw import AsyncAgent
    from caw.providers.opencode import ServeConversation
    from caw.testing import ScriptedModelServer, cli_environment

    model = ScriptedModelServer()
    model.start()
    root = tempfile.mkdtemp(prefix="caw-opencode-gap-")
    env = cli_environment("opencode", model.base_url, root)
    ask = await AsyncAgent("opencode", env=env, cwd=root, permission_mode="ask").start_session()
    bypass = await AsyncAgent(
        "opencode", env=env, cwd=root, permission_mode="bypass"
    ).start_session()
    conversation = ask._conversation
    assert isinstance(conversation, ServeConversation), "opencode runs in serve mode here"
    serve = conversation.serve
    floor_id = (await serve.json("POST", "/session", "POST /session", json={}))["id"]

    posts: list[float] = []  # the last turn's POST duration, whichever column sent it
    request = serve.request

    async def timed_request(method: str, path: str, what: str, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return await request(method, path, what, **kwargs)
        finally:
            if method == "POST" and path.endswith("/message"):
                posts.append(time.monotonic() - started)

    hook = patch.object(serve, "request", timed_request)  # this run's measurement only
    hook.start()

    async def floor(text: str) -> None:
        body = {"parts": [{"type": "text", "text": text}]}
        path = f"/session/{floor_id}/message"
        response = await serve.request("POST", path, "POST message", json=body, timeout=None)
        response.raise_for_status()

    columns: dict[str, Callable[[str], Awaitable[object]]] = {
        "ask": ask.send, "bypass": bypass.send, "floor": floor,
    }  # fmt: skip
    turns: dict[str, list[float]] = {name: [] for name in columns}
    post_times: dict[str, list[float]] = {name: [] for name in columns}
    for name, turn in columns.items():  # warm-up turns, not measured
        await turn(f"Repeat after me: warm {name}")
    names = list(columns)
    load = os.getloadavg()
    for r in range(rounds):
        for name in names[r % 3 :] + names[: r % 3]:
            posts.clear()
            started = time.monotonic()
            await columns[name](f"Repeat after me: {name} {r}")
            turns[name].append(time.monotonic() - started)
            post_times[name].append(posts[-1])
            await asyncio.sleep(0.05)
    for name in names:
        turn_ms = statistics.median(turns[name]) * 1000
        post_ms = statistics.median(post_times[name]) * 1000
        own = [t - p for t, p in zip(turns[name], post_times[name], strict=True)]
        print(
            f"{name:7s} turn {turn_ms:6.1f} ms  POST {post_ms:6.1f} ms"
            f"  turn - POST {statistics.median(own) * 1000:5.2f} ms  (n={len(own)})"
        )
    hook.stop()
    end = os.getloadavg()
    print(f"load average: {load[0]:.1f} at the start, {end[0]:.1f} at the end")
    await ask.end()
    await bypass.end()
    model.stop()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
