"""What change tracking (caw.changes) costs a turn, on a real folder and on a synthetic one.

    .venv/bin/python scripts/bench_snapshots.py [FOLDER] [--files 5000] [--runs 5]
    .venv/bin/python scripts/bench_snapshots.py [FOLDER] --first-answer claude_code

For each folder, each run uses a fresh shadow repository (as a new session does) and times:
the baseline snapshot (taken at session start, in the background), the send's before-state
capture (what the first answer waits for once the baseline is done) and its tree (written
while the turn runs), a later turn's before-state, and the after-turn snapshot plus
recording (one file edited by the "turn").
Figures are milliseconds, median and range over the runs.

``--first-answer PROVIDER``: a real CLI (tests/backends' pinned one, on PATH) against caw's
scripted model server: a new session started in each folder, with and without change
tracking, its first message sent as soon as the start returns, then a second one; the
time from send to answer of each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from caw.agent import AsyncAgent
from caw.changes import ChangeTracker
from caw.testing.environments import cli_environment
from caw.testing.model_server import ScriptedModelServer


def synthetic_tree(root: Path, files: int) -> Path:
    """``files`` small source files in nested folders, plus one that every turn edits."""
    for i in range(files):
        folder = root / f"pkg{i % 50}" / f"mod{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"file{i}.py"
        path.write_text(f"# file {i}\n" + "x = 1\n" * (40 + i % 200))
        # As old as a checkout's files: not "racily clean" (written in the second the shadow
        # index is), which git would rehash at every snapshot.
        os.utime(path, (time.time() - 3600,) * 2)
    return root


async def timed(step: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await step()
    return (time.perf_counter() - started) * 1000


async def one_run(folder: Path, edited: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="caw-bench-shadow-") as shadow:
        tracker = ChangeTracker.for_session(Path(shadow), folder)
        figures = {"baseline at start": await timed(tracker.baseline)}
        pending: asyncio.Future[str] | None = None

        async def capture() -> None:
            nonlocal pending
            pending = await tracker.capture()

        figures["first send's before-state (waited)"] = await timed(capture)
        assert pending is not None
        started = time.perf_counter()
        before = await pending
        figures["  its tree, written during the turn"] = (time.perf_counter() - started) * 1000
        original = await asyncio.to_thread(edited.read_bytes)
        try:
            await asyncio.to_thread(edited.write_bytes, original + b"# edited by the turn\n")

            async def after_turn() -> None:
                after = await tracker.snapshot()
                await tracker.record(1, before, after)

            figures["after-turn snapshot + record"] = await timed(after_turn)
        finally:
            await asyncio.to_thread(edited.write_bytes, original)
        figures["later send's before-state (waited)"] = await timed(capture)
        assert pending is not None
        before = await pending

        async def quiet_turn() -> None:
            after = await tracker.snapshot()
            await tracker.record(2, before, after)

        figures["after a turn that changed nothing"] = await timed(quiet_turn)
        return figures


async def measure(name: str, folder: Path, edited: Path, runs: int) -> None:
    results: dict[str, list[float]] = {}
    for _ in range(runs):
        for step, ms in (await one_run(folder, edited)).items():
            results.setdefault(step, []).append(ms)
    print(f"\n{name} ({folder}), {runs} runs:")
    for step, values in results.items():
        print(
            f"  {step:36} median {statistics.median(values):7.0f} ms"
            f"  ({min(values):.0f}-{max(values):.0f})"
        )


async def first_answers(provider: str, folder: Path, track: bool, home: Path) -> dict[str, float]:
    server = ScriptedModelServer().start()
    try:
        agent = AsyncAgent(
            provider, cwd=folder, env=cli_environment(provider, server.base_url, home),
            data_dir=home / "data", track_changes=track, trusted=True,
        )  # fmt: skip
        session = await agent.start_session()
        try:
            figures = {"first send": await timed(lambda: session.send("Repeat after me: one"))}
            figures["second send"] = await timed(lambda: session.send("Repeat after me: two"))
        finally:
            await session.end()
        return figures
    finally:
        server.stop()


async def measure_first_answers(name: str, provider: str, folder: Path, runs: int) -> None:
    results: dict[str, list[float]] = {}
    for _ in range(runs):
        for track in (False, True):  # interleaved: the machine's load moves
            with tempfile.TemporaryDirectory(prefix="caw-bench-home-") as home:
                figures = await first_answers(provider, folder, track, Path(home))
            for step, ms in figures.items():
                results.setdefault(f"{step}, tracking {'on' if track else 'off'}", []).append(ms)
    print(f"\n{name} ({folder}), {provider}, {runs} runs:")
    for step, values in sorted(results.items()):
        print(
            f"  {step:36} median {statistics.median(values):7.0f} ms"
            f"  ({min(values):.0f}-{max(values):.0f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=".", help="a real folder (default: .)")
    parser.add_argument("--files", type=int, default=5000, help="the synthetic tree's size")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--first-answer", metavar="PROVIDER", help="time a real CLI's answers")
    args = parser.parse_args()
    folder = Path(args.folder).resolve()
    if args.first_answer:
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        asyncio.run(measure_first_answers("real folder", args.first_answer, folder, args.runs))
        with tempfile.TemporaryDirectory(prefix="caw-bench-tree-") as tmp:
            tree = synthetic_tree(Path(tmp), args.files)
            asyncio.run(
                measure_first_answers(f"synthetic {args.files}", args.first_answer, tree, args.runs)
            )
        return
    # The "turn" edits a scratch file of its own, so that nobody's file is touched.
    edited = folder / f".caw-bench-{os.getpid()}.txt"
    edited.write_text("scratch file of scripts/bench_snapshots.py\n")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    try:
        asyncio.run(measure("real folder", folder, edited, args.runs))
    finally:
        edited.unlink()
    with tempfile.TemporaryDirectory(prefix="caw-bench-tree-") as tmp:
        tree = synthetic_tree(Path(tmp), args.files)
        edited = tree / "pkg0" / "mod0" / "file0.py"
        asyncio.run(measure(f"synthetic {args.files} files", tree, edited, args.runs))


if __name__ == "__main__":
    main()
