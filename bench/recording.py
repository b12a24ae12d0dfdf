#!/usr/bin/env python3
"""What recording to the data dir costs on the answer's path (issue 20).

    .venv/bin/python bench/recording.py [--provider claude_code] [--turns 40]

A real CLI against caw's scripted model server (answers at once), one library session with a
data dir. For each turn, two figures side by side:

- **now**: the time the session core spends in its data dir writes between ``send`` and the
  answer (caw.recorder: waiting for the writer thread, the trajectory.json rewrite from cached
  turns, a handle save, queueing each write), summed by wrapping those calls;
- **before**: the same turn's writes done as they were before caw.recorder, synchronously
  into a second folder right after the turn: its input and raw lines, two traj.jsonl lines,
  the whole trajectory serialised and written with an fsync.

The writer thread's own time (the writes that left the path) is reported too. A growing
session shows whether the cost grows with it: the last ten turns are reported apart.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]


def timed(
    owner: Any, name: str, into: list[float], depth: list[int], parts: dict[str, list[float]]
) -> None:
    """Wrap ``owner.name`` so its time (outermost call only) adds to ``into[-1]`` and to
    ``parts[name][-1]``."""
    part = parts.setdefault(name, [])
    original = getattr(owner, name)
    is_async = asyncio.iscoroutinefunction(original)

    def enter() -> float:
        depth[0] += 1
        return time.perf_counter()

    def leave(started: float) -> None:
        depth[0] -= 1
        if depth[0] == 0 and into:
            spent = time.perf_counter() - started
            into[-1] += spent
            if len(part) < len(into):
                part.extend([0.0] * (len(into) - len(part)))
            part[-1] += spent

    if is_async:

        async def wrapped_async(*args: Any, **kw: Any) -> Any:
            started = enter()
            try:
                return await original(*args, **kw)
            finally:
                leave(started)

        setattr(owner, name, wrapped_async)
    else:

        def wrapped(*args: Any, **kw: Any) -> Any:
            started = enter()
            try:
                return original(*args, **kw)
            finally:
                leave(started)

        setattr(owner, name, wrapped)


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"median {statistics.median(values) * 1000:6.3f} ms  p95 {p95 * 1000:6.3f} ms"


async def main(provider: str, turns: int) -> None:
    from harness import ModelServer  # a process of its own: no GIL shared with the session

    from caw import AsyncAgent
    from caw.models import Turn
    from caw.recorder import SessionRecorder
    from caw.session import AsyncSession
    from caw.store import SessionDir, Store
    from caw.testing import cli_environment

    now: list[float] = []  # per turn, on the answer's path
    writer: list[float] = []  # per turn, on the writer thread
    depth = [0]
    parts: dict[str, list[float]] = {}
    settle = SessionRecorder.settle  # unwrapped: the wait between turns is not a turn's
    for name in ("settle", "save_trajectory", "later", "append_raw"):
        timed(SessionRecorder, name, now, depth, parts)
    timed(AsyncSession, "_save_handle", now, depth, parts)
    run_original = SessionRecorder._run

    def run_timed(self: SessionRecorder, write: Callable[[SessionDir], None]) -> None:
        started = time.perf_counter()
        try:
            run_original(self, write)
        finally:
            if writer:
                writer[-1] += time.perf_counter() - started

    SessionRecorder._run = run_timed  # type: ignore[method-assign]
    raw: list[dict[str, Any]] = []
    append_raw = SessionDir.append_raw_lines

    def keep_raw(self: SessionDir, number: int, records: list[dict[str, Any]]) -> None:
        raw.extend(records)
        append_raw(self, number, records)

    SessionDir.append_raw_lines = keep_raw  # type: ignore[method-assign]

    root = tempfile.mkdtemp(prefix="caw-bench-recording-")
    model = ModelServer(Path(root) / "model")
    env = cli_environment(provider, model.base_url, root)
    agent = AsyncAgent(provider, env=env, cwd=root, data_dir=os.path.join(root, "data"))
    session = await agent.start_session()
    before_dir = Store(os.path.join(root, "before")).create("replay")
    before: list[float] = []
    try:
        for n in range(1, turns + 1):
            if session._recorder is not None:  # the writer thread's time is the turn's own
                await settle(session._recorder)
            raw.clear()
            now.append(0.0)
            writer.append(0.0)
            text = f"Repeat after me: turn {n} " + "alpha bravo charlie " * 20
            turn: Turn = await session.send(text)
            # before caw.recorder: each write synchronous, trajectory.json whole + fsync
            started = time.perf_counter()
            before_dir.begin_turn(n, text)
            before_dir.log({"type": "turn_start", "turn": n, "input": text})
            for record in list(raw):
                append_raw(before_dir, n, [record])
            before_dir.save_trajectory(session.trajectory)
            before_dir.log({"type": "turn_end", "turn": n, "result": turn.result})
            before.append(time.perf_counter() - started)
        await session.flush()
    finally:
        await session.end()
        model.close()
        shutil.rmtree(root, ignore_errors=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{provider}, {turns} turns, {len(raw)} raw lines in the last; load average {load}")
    print(f"  on the answer's path now      {ms(now)}")
    print(f"  the same writes, before       {ms(before)}")
    print(f"  off the path (writer thread)  {ms(writer)}")
    print(
        f"  ratio before / now (medians)  {statistics.median(before) / statistics.median(now):.1f}x"
    )
    for name, values in parts.items():
        if values:
            print(f"    of which {name:16s} {ms(values + [0.0] * (len(now) - len(values)))}")
    print(f"  last ten turns: now {ms(now[-10:])}; before {ms(before[-10:])}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", default="claude_code")
    parser.add_argument("--turns", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(main(args.provider, args.turns))
