"""What change tracking (caw.changes) costs a turn, on a real folder and on a synthetic one.

    .venv/bin/python scripts/bench_snapshots.py [FOLDER] [--files 5000] [--runs 5]

For each folder, each run uses a fresh shadow repository (as a new session does) and times:
the baseline snapshot (taken at session start, in the background), the send's before-state
snapshot (what the first answer waits for once the baseline is done), a later turn's
before-state, and the after-turn snapshot plus recording (one file edited by the "turn").
Figures are milliseconds, median and range over the runs.
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

from caw.changes import ChangeTracker


def synthetic_tree(root: Path, files: int) -> Path:
    """``files`` small source files in nested folders, plus one that every turn edits."""
    for i in range(files):
        folder = root / f"pkg{i % 50}" / f"mod{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{i}.py").write_text(f"# file {i}\n" + "x = 1\n" * (40 + i % 200))
    return root


async def timed(step: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await step()
    return (time.perf_counter() - started) * 1000


async def one_run(folder: Path, edited: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="caw-bench-shadow-") as shadow:
        tracker = ChangeTracker.for_session(Path(shadow), folder)
        figures = {"baseline at start": await timed(tracker.snapshot)}
        before = ""

        async def before_state() -> None:
            nonlocal before
            before = await tracker.snapshot()

        figures["first send's before-state"] = await timed(before_state)
        original = await asyncio.to_thread(edited.read_bytes)
        try:
            await asyncio.to_thread(edited.write_bytes, original + b"# edited by the turn\n")

            async def after_turn() -> None:
                after = await tracker.snapshot()
                await tracker.record(1, before, after)

            figures["after-turn snapshot + record"] = await timed(after_turn)
        finally:
            await asyncio.to_thread(edited.write_bytes, original)
        figures["later send's before-state"] = await timed(before_state)

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=".", help="a real folder (default: .)")
    parser.add_argument("--files", type=int, default=5000, help="the synthetic tree's size")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = Path(args.folder).resolve()
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
