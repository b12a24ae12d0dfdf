#!/usr/bin/env python3
"""What codex's first turn on a thread costs over a warm one, in a warm app-server (issue 20).

    .venv/bin/python bench/codex_first_turn.py [--reps 12] [--warm-with METHOD[,METHOD]]

One ``codex app-server`` (as caw runs it) against caw's scripted model server (answers at
0 ms), offline. It is warmed first (one thread, two turns); then, interleaved rep by rep:

- ``new``: ``thread/start``, a pause (a standby that has settled), turn 1 and turn 2;
- ``resumed``: ``thread/resume`` of a thread recorded by an earlier app-server, turn 1;
- ``fresh``: a new app-server (initialize, ``thread/start``, a pause), its turn 1 and 2;
- ``fresh+prime``: as ``fresh``, after a throwaway thread run a shell command and was
  deleted (:func:`prime`);
- ``new+METHOD``, ``fresh+METHOD``: with those requests sent on the thread right after
  its start (``{"threadId"}`` their only param).

``--library``: instead, caw's new chat with and without the first thread write ahead
(caw/providers/codex/first_write.py), interleaved: ``AsyncAgent.prestart`` on a fresh
app-server, a pause (a person), the first send on the standby, then a warm send.

Each turn is timed from ``turn/start`` to ``turn/completed``, split at the model server:
``to_model`` (turn/start sent -> the model request received) and ``after_model`` (the
answer written -> turn/completed read).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import time
from pathlib import Path
from typing import Any
from unittest import mock

from study import LoadLog, ModelTiming, cli_path, median, scripted_cli

TIMEOUT = 60.0
LOADS = LoadLog()  # sampled after each rep


class AppServer:
    """One ``codex app-server``, driven by JSON-RPC lines."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.notes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, cli: str, env: dict[str, str], cwd: str) -> AppServer:
        proc = await asyncio.create_subprocess_exec(
            cli, "app-server", env=env, cwd=cwd, limit=2**24,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=None if env.get("RUST_LOG") else asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        server = cls(proc)
        await server.call("initialize", {"clientInfo": {"name": "bench", "version": "0"}})
        await server.send({"method": "initialized"})
        return server

    async def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(message) + "\n").encode())
        await self.proc.stdin.drain()

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            message = json.loads(line)
            if "id" in message and "method" in message:  # a server request: decline
                await self.send({"id": message["id"], "result": {"decision": "decline"}})
            elif "id" in message:
                future = self.pending.pop(message["id"])
                if "error" in message:
                    future.set_exception(RuntimeError(message["error"]))
                else:
                    future.set_result(message.get("result"))
            else:
                message["t"] = time.monotonic()
                self.notes.put_nowait(message)

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        request_id = next(self.ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        await self.send({"id": request_id, "method": method, "params": params})
        return await asyncio.wait_for(future, TIMEOUT)

    async def new_thread(self, cwd: str) -> str:
        settings = {"cwd": cwd, "approvalPolicy": "never", "sandbox": "danger-full-access"}
        return str((await self.call("thread/start", settings))["thread"]["id"])

    async def resume(self, thread: str, cwd: str) -> None:
        settings = {"cwd": cwd, "approvalPolicy": "never", "sandbox": "danger-full-access"}
        await self.call("thread/resume", {"threadId": thread, **settings})

    async def turn(self, thread: str, text: str, timing: ModelTiming) -> dict[str, float]:
        while not self.notes.empty():
            self.notes.get_nowait()
        seen = len(timing.started)
        sent = time.monotonic()
        input_ = [{"type": "text", "text": text}]
        await self.call("turn/start", {"threadId": thread, "input": input_})
        while True:
            note = await asyncio.wait_for(self.notes.get(), TIMEOUT)
            params = note.get("params") or {}
            if note.get("method") == "turn/completed" and params.get("threadId") == thread:
                break
        done = note["t"]
        result = {"wall_ms": (done - sent) * 1000}
        if len(timing.started) > seen and len(timing.finished) > seen:
            result["to_model_ms"] = (timing.started[seen] - sent) * 1000
            result["after_model_ms"] = (done - timing.finished[seen]) * 1000
        return result

    async def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except asyncio.TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        self.reader.cancel()


async def warm_up(server: AppServer, thread: str, requests: list[str]) -> None:
    """The candidate requests, sent on a thread started ahead."""
    for method in requests:
        await server.call(method, {"threadId": thread})


async def prime(server: AppServer, cwd: str) -> None:
    """A throwaway thread made real by a shell command (no model request), then deleted: the
    app-server's first thread written to disk, paid before the one a person will use."""
    thread = await server.new_thread(cwd)
    await server.call("thread/shellCommand", {"threadId": thread, "command": "true"})
    while True:
        note = await asyncio.wait_for(server.notes.get(), TIMEOUT)
        params = note.get("params") or {}
        if note.get("method") == "turn/completed" and params.get("threadId") == thread:
            break
    await server.call("thread/delete", {"threadId": thread})


async def fresh(
    cli: str, env: dict[str, str], work: str, timing: ModelTiming, args: argparse.Namespace,
    name: str, warm_with: list[str],
) -> dict[str, float]:  # fmt: skip
    """The first turn of a new app-server (started, initialized, a thread started ahead)."""
    server = await AppServer.start(cli, env, work)
    try:
        if name == "fresh+prime":
            await prime(server, work)
        thread = await server.new_thread(work)
        if name not in ("fresh", "fresh+prime"):
            await warm_up(server, thread, warm_with)
        await asyncio.sleep(args.wait)
        first = await server.turn(thread, f"{name} 1", timing)
        if name in ("fresh", "fresh+prime"):
            second = await server.turn(thread, f"{name} 2", timing)
            FRESH_SECOND.setdefault(f"{name} second", []).append(second)
        return first
    finally:
        await server.close()


FRESH_SECOND: dict[str, list[dict[str, float]]] = {}


async def measure(
    args: argparse.Namespace, cli: str, env: dict[str, str], work: str, timing: ModelTiming
) -> dict[str, list[dict[str, float]]]:
    recorder = await AppServer.start(cli, env, work)  # threads to resume, recorded ahead
    recorded = []
    for i in range(args.reps):
        thread = await recorder.new_thread(work)
        await recorder.turn(thread, f"recorded {i}", timing)
        recorded.append(thread)
    await recorder.close()

    server = await AppServer.start(cli, env, work)
    try:
        thread = await server.new_thread(work)
        for i in range(2):  # the process itself warm
            await server.turn(thread, f"warming {i}", timing)
        warm_with = [m for m in args.warm_with.split(",") if m]
        variants = ["new", "resumed", "fresh", "fresh+prime"]
        if warm_with:
            variants += [f"new+{args.warm_with}", f"fresh+{args.warm_with}"]
        results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        results["second"] = []
        for rep in range(args.reps):
            for name in variants if rep % 2 == 0 else reversed(variants):
                if name.startswith("fresh"):
                    results[name].append(await fresh(cli, env, work, timing, args, name, warm_with))
                    continue
                if name == "resumed":
                    thread = recorded[rep]
                    await server.resume(thread, work)
                else:
                    thread = await server.new_thread(work)
                    if name != "new":
                        await warm_up(server, thread, warm_with)
                await asyncio.sleep(args.wait)
                results[name].append(await server.turn(thread, f"rep {rep} {name}", timing))
                if name == "new":
                    results["second"].append(await server.turn(thread, f"rep {rep} 2", timing))
            LOADS.sample()
        results.update(FRESH_SECOND)
        return results
    finally:
        await server.close()


async def library_new_chat(args: argparse.Namespace, env: dict[str, str], work: Path) -> None:
    """caw's new chat on a fresh app-server, with and without ``write_first_thread``."""
    import caw.providers.codex as codex
    from caw import AsyncAgent
    from caw.providers import close_shared_providers

    async def skipped(server: Any, params: Any) -> bool:
        return False

    agent = AsyncAgent("codex", env=env, cwd=work, permission_mode="bypass")
    rows: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for rep in range(args.reps):
        for ahead in (False, True) if rep % 2 == 0 else (True, False):
            with contextlib.ExitStack() as patches:
                if not ahead:
                    patches.enter_context(mock.patch.object(codex, "write_first_thread", skipped))
                standby = await agent.prestart()
            await asyncio.sleep(1.0)  # a person
            assert standby is not None
            session = await agent.start_session(session_id=standby.session_id)
            times = []
            for text in ("Repeat after me: one", "Repeat after me: two"):
                started = time.monotonic()
                await session.send(text)
                times.append((time.monotonic() - started) * 1000)
            await session.end()
            await close_shared_providers()  # the next standby: on a fresh app-server
            rows[ahead].append((times[0], times[1]))
        LOADS.sample()
    print(f"caw new chat on a fresh app-server; {args.reps} pairs interleaved")
    print(LOADS.summary())
    pairs = [a[0] - b[0] for a, b in zip(rows[True], rows[False], strict=True)]
    print(f"  first send, with - without (paired): median {median(pairs):+.1f} ms")
    for ahead, turns in rows.items():
        first, warm = median([t[0] for t in turns]), median([t[1] for t in turns])
        extra = median([t[0] - t[1] for t in turns])
        print(f"  first write ahead {ahead!s:5}: first send {first:5.1f} ms, warm send "
              f"{warm:5.1f} ms, first - warm (same session) {extra:+.1f} ms")  # fmt: skip


def main(args: argparse.Namespace) -> None:
    from caw.providers.codex.options import native_cli

    timing = ModelTiming()
    with scripted_cli("codex", timing) as (env, work):
        if args.rust_log:
            env["RUST_LOG"] = args.rust_log
        # As caw runs it: the binary, not npm's node wrapper.
        cli, extra = native_cli(cli_path("codex", env))
        env.update(extra)
        LOADS.sample()
        if args.library:
            asyncio.run(library_new_chat(args, env, work))
            return
        results = asyncio.run(measure(args, cli, env, str(work), timing))
    print(f"codex first turn vs warm, one warm app-server; {args.reps} reps interleaved")
    print(LOADS.summary())
    print(f"  {'turn (medians, ms)':28s} {'wall':>6s} {'to model':>9s} {'after model':>12s}")
    for name, turns in results.items():
        label = "new, turn 2" if name == "second" else name.replace(" second", ", turn 2")
        label = label if "turn 2" in label else f"{name}, turn 1"
        cells = [median([t[k] for t in turns if k in t]) for k in ("wall_ms", "to_model_ms")]
        after = median([t["after_model_ms"] for t in turns if "after_model_ms" in t])
        print(f"  {label:28s} {cells[0]:6.1f} {cells[1]:9.1f} {after:12.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=12, help="turns per variant")
    parser.add_argument("--wait", type=float, default=0.5, help="seconds before a first turn")
    parser.add_argument("--warm-with", default="", help="requests sent on a new thread ahead")
    parser.add_argument("--rust-log", default="", help="RUST_LOG for the app-server (stderr)")
    parser.add_argument("--library", action="store_true", help="caw's new chat, +/- ahead")
    parser.add_argument("--json", default="", help="write every turn's numbers here")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
