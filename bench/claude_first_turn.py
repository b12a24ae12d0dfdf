#!/usr/bin/env python3
"""What claude's first turn in a process costs over a warm one, phase by phase (issue 20).

    .venv/bin/python bench/claude_first_turn.py [--reps 10] [--git] [--resume]
        [--warm-with REQUESTS [--warm-with REQUESTS ...]]

Each rep starts ``claude -p`` as caw does (stream-json both ways, ``--session-id`` of a new
session; with ``--resume``, also a process resuming a recorded session), waits ``--wait``
seconds (a standby that has settled), then sends ``--turns`` turns, against caw's scripted
model server (answers at 0 ms), offline. The variants run interleaved, rep by rep.

claude reports its own timing when ``CLAUDE_CODE_EMIT_STARTUP_TIMING=1`` is set (it only
adds fields to the ``result`` line): ``time_to_request_ms`` (the user line read -> the
turn's model request sent), split in ``time_to_request_phases_ms``, with
``time_to_request_cpu_ms`` (CPU the process used meanwhile) and ``time_to_request_loop_lag_ms``.
The table printed compares the medians of the first turn and of the later (warm) turns.

``--warm-with get_settings`` adds, for each variant, one that sends those control requests
(comma-separated, one after the other, each answered before the next) to the process as soon
as it starts, as caw's warm-up does (caw/providers/claude_code/warm_up.py: what it pre-pays
and what it cannot). A request may carry fields: ``get_context_usage:detail=summary``; an
item that starts with ``/`` is sent as a user line instead (a local slash command such as
``/cost``, answered by claude itself; it writes rows into the session's transcript).
Repeat ``--warm-with`` to compare several warm-ups in the same interleaved run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from study import LoadLog, cli_path, median, scripted_cli

FLAGS = [
    "-p", "--verbose", "--input-format", "stream-json", "--output-format", "stream-json",
    "--include-partial-messages", "--dangerously-skip-permissions",
    "--setting-sources=user", "--strict-mcp-config",
]  # fmt: skip
TIMEOUT = 120.0
LOADS = LoadLog()  # sampled after each rep


class Claude:
    """One claude process, driven line by line."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc

    @classmethod
    async def spawn(cls, cli: str, flags: list[str], env: dict[str, str], cwd: str) -> Claude:
        proc = await asyncio.create_subprocess_exec(
            cli, *FLAGS, *flags, env=env, cwd=cwd, limit=2**24,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        return cls(proc)

    async def _write(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        await self.proc.stdin.drain()

    async def _line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), TIMEOUT)
        if not line:
            raise RuntimeError(f"claude ended (exit {await self.proc.wait()})")
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    async def control(self, request: dict[str, str]) -> str:
        """Sends one control request; its answer's subtype (success or error)."""
        request_id = f"warm-{uuid.uuid4().hex[:8]}"
        await self._write({"type": "control_request", "request_id": request_id, "request": request})
        while True:
            line = await self._line()
            response = line.get("response") or {}
            if line.get("type") == "control_response" and response.get("request_id") == request_id:
                return str(response.get("subtype"))

    async def turn(self, text: str) -> dict[str, Any]:
        """One turn: the wall time from writing the user line to the result, and its timing."""
        started = time.monotonic()
        await self._write({"type": "user", "message": {"role": "user", "content": text}})
        while True:
            line = await self._line()
            if line.get("type") == "result":
                return {
                    "wall_ms": (time.monotonic() - started) * 1000,
                    "time_to_request_ms": line.get("time_to_request_ms"),
                    "cpu_ms": line.get("time_to_request_cpu_ms"),
                    "loop_lag_ms": line.get("time_to_request_loop_lag_ms"),
                    "phases": line.get("time_to_request_phases_ms") or {},
                }

    async def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def one_process(
    cli: str, flags: list[str], env: dict[str, str], cwd: str, args: argparse.Namespace,
    warm_with: list[dict[str, str]],
) -> list[dict[str, Any]]:  # fmt: skip
    claude = await Claude.spawn(cli, flags, env, cwd)
    try:
        for request in warm_with:
            if "user_line" in request:
                await claude.turn(request["user_line"])
                continue
            answer = await claude.control(request)
            if answer != "success":
                raise RuntimeError(f"claude answered {request} with {answer}")
        await asyncio.sleep(args.wait)
        return [await claude.turn(f"Repeat after me: turn {i}") for i in range(args.turns)]
    finally:
        await claude.close()


def report(name: str, turns: list[list[dict[str, Any]]]) -> None:
    first = [process[0] for process in turns]
    warm = [turn for process in turns for turn in process[1:]]
    print(f"\n== {name}: {len(first)} first turns, {len(warm)} warm turns (medians, ms)")
    for key, label in (
        ("wall_ms", "user line -> result"),
        ("time_to_request_ms", "user line -> model request"),
        ("cpu_ms", "CPU meanwhile"),
        ("loop_lag_ms", "longest event-loop stall"),
    ):
        f = median([t[key] for t in first if t[key] is not None])
        w = median([t[key] for t in warm if t[key] is not None])
        print(f"  {label:28s} first {f:6.0f}  warm {w:6.0f}  (+{f - w:.0f})")
    phases = sorted({p for t in first + warm for p in t["phases"]})
    rows = []
    for phase in phases:
        f = median([t["phases"].get(phase, 0) for t in first])
        w = median([t["phases"].get(phase, 0) for t in warm])
        rows.append((f - w, phase, f, w))
    print("  phases of user line -> model request (claude's time_to_request_phases_ms):")
    for diff, phase, f, w in sorted(rows, reverse=True):
        if f or w:
            print(f"    {phase:24s} first {f:5.1f}  warm {w:5.1f}  (+{diff:.1f})")


def control_requests(spec: str) -> list[dict[str, str]]:
    """``get_settings,get_context_usage:detail=summary`` -> the control requests it names
    (``/cost``: ``{"user_line": "/cost"}``)."""
    requests = []
    for item in spec.split(","):
        if item.startswith("/"):
            requests.append({"user_line": item})
            continue
        subtype, *fields = item.split(":")
        request = {"subtype": subtype}
        for field in fields:
            key, _, value = field.partition("=")
            request[key] = value
        requests.append(request)
    return requests


def git_tree(path: Path) -> None:
    """A small committed git repository (claude runs git in one at start and on turn 1)."""
    path.mkdir(parents=True, exist_ok=True)
    for i in range(50):
        (path / f"f{i}.txt").write_text(f"line {i}\n")
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    subprocess.run([*git, "init", "-q", "."], cwd=path, check=True)
    subprocess.run([*git, "add", "."], cwd=path, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=path, check=True)


async def measure(
    args: argparse.Namespace, cli: str, env: dict[str, str], work: str
) -> dict[str, list[list[dict[str, Any]]]]:
    """Every variant's processes, interleaved rep by rep: each process's turns."""
    variants: dict[str, tuple[list[str], list[dict[str, str]]]] = {"fresh": ([], [])}
    if args.resume:  # a recorded session, resumed by each rep's process
        recorded = str(uuid.uuid4())
        one_turn = argparse.Namespace(wait=0.0, turns=1)
        await one_process(cli, ["--session-id", recorded], env, work, one_turn, [])
        variants["resume"] = (["--resume", recorded], [])
    for spec in args.warm_with:  # the same processes, sent those control requests ahead
        for name, (flags, _) in list(variants.items()):
            if "+" not in name:
                variants[f"{name}+{spec}"] = (flags, control_requests(spec))
    results: dict[str, list[list[dict[str, Any]]]] = {name: [] for name in variants}
    for rep in range(args.reps):
        names = list(variants) if rep % 2 == 0 else list(reversed(variants))
        for name in names:
            flags, warm_with = variants[name]
            flags = flags or ["--session-id", str(uuid.uuid4())]
            results[name].append(await one_process(cli, flags, env, work, args, warm_with))
        LOADS.sample()
    return results


def main(args: argparse.Namespace) -> None:
    with scripted_cli("claude_code") as (env, work):
        env["CLAUDE_CODE_EMIT_STARTUP_TIMING"] = "1"  # adds claude's timing to each result
        cli = cli_path("claude", env)
        if args.git:
            git_tree(work)
        LOADS.sample()
        results = asyncio.run(measure(args, cli, env, str(work)))
    print(f"claude first turn vs warm; cwd {'a git repository' if args.git else 'empty'}")
    print(LOADS.summary())
    for name, turns in results.items():
        report(name, turns)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10, help="processes per variant")
    parser.add_argument("--turns", type=int, default=3, help="turns per process (>= 2)")
    parser.add_argument("--wait", type=float, default=5.0, help="seconds before the first turn")
    parser.add_argument("--git", action="store_true", help="work in a small git repository")
    parser.add_argument("--resume", action="store_true", help="also time --resume processes")
    parser.add_argument(
        "--warm-with", action="append", default=[], help="control requests to send ahead"
    )
    parser.add_argument("--json", default="", help="write every turn's numbers here")
    args = parser.parse_args()
    if args.turns < 2:
        parser.error("--turns must be at least 2 (a first and a warm turn)")
    return args


if __name__ == "__main__":
    main(parse_args())
