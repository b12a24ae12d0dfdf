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

The differences between the medians are what the permission rules cost inside opencode
(ask - bypass) and what caw's adapter adds beyond the POST (bypass - floor: its message id,
waiting for the event stream to deliver the turn's end).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable


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

    async def floor(text: str) -> None:
        body = {"parts": [{"type": "text", "text": text}]}
        path = f"/session/{floor_id}/message"
        response = await serve.request("POST", path, "POST message", json=body, timeout=None)
        response.raise_for_status()

    columns: dict[str, Callable[[str], Awaitable[object]]] = {
        "ask": ask.send, "bypass": bypass.send, "floor": floor,
    }  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in columns}
    for name, turn in columns.items():  # warm-up turns, not measured
        await turn(f"Repeat after me: warm {name}")
    names = list(columns)
    for r in range(rounds):
        for name in names[r % 3 :] + names[: r % 3]:
            started = time.monotonic()
            await columns[name](f"Repeat after me: {name} {r}")
            times[name].append(time.monotonic() - started)
            await asyncio.sleep(0.05)
    for name, values in times.items():
        print(f"{name:7s} median {statistics.median(values) * 1000:6.1f} ms  (n={len(values)})")
    print("load average:", ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    await ask.end()
    await bypass.end()
    model.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
