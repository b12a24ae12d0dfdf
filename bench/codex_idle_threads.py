#!/usr/bin/env python3
"""What a new codex chat pays beside idle threads in the same app-server (issue 20).

    .venv/bin/python bench/codex_idle_threads.py [--idle 50] [--rounds 12] [--caw]

Two bare ``codex app-server`` processes (bench/drivers/floor_codex.py's client, no
caw code) against the scripted model server (bench/model_server.py, 0 ms): ``empty``
holds one warm thread, ``idle`` the same plus ``--idle`` threads answered once each
(what caw-server's shared app-server holds beside 50 idle sessions). Each round, in
alternating order, on each server: 1 s of quiet, then a new chat (``thread/start``
and its first turn, timed apart), then a warm turn of the warm thread 50 ms after
the one before. Medians, paired differences, the app-server's CPU (schedstat) and
the load average are printed. ``--caw``: the same through two caw-servers
(:func:`through_caw`).
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
from pathlib import Path

# floor_codex: bench/drivers is not a package
sys.path.insert(0, str(Path(__file__).resolve().parent / "drivers"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from floor_codex import CodexFloor
from harness import ModelServer, environment
from pause_effect import descendants, scheduled

COLUMNS = ("start_ms", "first_turn_ms", "new_chat_ms", "new_chat_cpu_ms", "warm_ms")


def new_chat(server: CodexFloor, pids: list[int], text: str) -> dict[str, float]:
    cpu_before = scheduled(pids)[0]
    started = time.monotonic()
    result = server._request(
        "thread/start",
        {"cwd": os.getcwd(), "approvalPolicy": "never", "sandbox": "danger-full-access"},
    )
    server.thread_id = result["thread"]["id"]
    opened = time.monotonic()
    turn = server.op_turn(text)
    cpu_after = scheduled(pids)[0]
    return {
        "start_ms": (opened - started) * 1000,
        "first_turn_ms": turn["seconds"] * 1000,
        "new_chat_ms": (opened - started + turn["seconds"]) * 1000,
        "new_chat_cpu_ms": cpu_after - cpu_before,
    }


async def through_caw(args: argparse.Namespace, env: dict[str, str], root: Path) -> None:
    """The same through caw-server: two daemons (data dir, standby on, as the first-answer
    phase runs them), ``idle`` holding ``--idle`` live sessions answered once each."""
    from caw.client import CawClient

    work = os.getcwd()
    clients = {
        name: await CawClient.spawn("--data-dir", str(root / name), env=env, cwd=work)
        for name in ("empty", "idle")
    }
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in clients}
    loads = [os.getloadavg()[0]]

    async def chat(client: CawClient, text: str) -> tuple[str, float]:
        started = time.monotonic()
        session = (await client.start_session(provider="codex", cwd=work))["sessionId"]
        await client.send(session, f"Repeat after me: {text}")
        return session, (time.monotonic() - started) * 1000

    try:
        warm: dict[str, str] = {}
        for name, client in clients.items():
            await client.initialize()
            warm[name], _ = await chat(client, f"first {name}")
        for i in range(args.idle):
            await chat(clients["idle"], f"idle {i}")
        for rnd in range(args.rounds):
            for name in clients if rnd % 2 == 0 else reversed(list(clients)):
                client = clients[name]
                assert client.pid is not None
                tree = [client.pid, *descendants(client.pid)]
                await asyncio.sleep(1.0)  # a person between chats
                before = scheduled(tree)[0]
                session, seconds = await chat(client, f"chat {rnd}")
                cpu = scheduled(tree)[0] - before
                await client.end(session)
                await client.send(warm[name], f"Repeat after me: lead {rnd}")
                await asyncio.sleep(0.05)
                started = time.monotonic()
                await client.send(warm[name], f"Repeat after me: warm {rnd}")
                row = {"new_chat_ms": seconds, "new_chat_cpu_ms": cpu}
                row["warm_ms"] = (time.monotonic() - started) * 1000
                rows[name].append(row)
            loads.append(os.getloadavg()[0])
    finally:
        for client in clients.values():
            await client.aclose(timeout=120)
    report(
        f"codex through caw-server: a new chat beside {args.idle} idle sessions or none; "
        f"{args.rounds} rounds",
        loads,
        rows,
        ("new_chat_ms", "new_chat_cpu_ms", "warm_ms"),
    )


def report(
    title: str,
    loads: list[float],
    rows: dict[str, list[dict[str, float]]],
    columns: tuple[str, ...],
) -> None:
    """Medians per variant and column, and idle minus empty paired round by round."""
    print(title)
    print(f"load average (1 min): start {loads[0]:.2f}, median {statistics.median(loads):.2f}")
    print("  " + " " * 24 + " ".join(f"{c:>16s}" for c in columns))
    for name, turns in rows.items():
        cells = [statistics.median(t[c] for t in turns) for c in columns]
        print(f"  {name:24s}" + " ".join(f"{c:16.2f}" for c in cells))
    diffs = [
        statistics.median(b[c] - a[c] for a, b in zip(rows["empty"], rows["idle"], strict=True))
        for c in columns
    ]
    print(f"  {'idle - empty (paired)':24s}" + " ".join(f"{d:+16.2f}" for d in diffs))


def main(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="caw-codex-idle-"))
    work = root / "work"
    work.mkdir()
    model = ModelServer(root / "model")
    os.environ.clear()
    os.environ.update(environment("codex", model.base_url, root))
    os.chdir(work)
    if args.caw:
        try:
            asyncio.run(through_caw(args, dict(os.environ), root))
        finally:
            model.close()
            shutil.rmtree(root, ignore_errors=True)
        return 0
    servers = {"empty": CodexFloor(), "idle": CodexFloor()}
    warm: dict[str, str] = {}
    pids: dict[str, list[int]] = {}
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
    loads = [os.getloadavg()[0]]
    try:
        for name, server in servers.items():
            opened = server.op_open()
            assert server.proc is not None
            pids[name] = [server.proc.pid, *descendants(server.proc.pid)]
            warm[name] = str(opened["key"])
            for i in range(2):
                server.op_turn(f"Repeat after me: warm {name} {i}")
        for i in range(args.idle):
            new_chat(servers["idle"], pids["idle"], f"Repeat after me: idle {i}")
        servers["idle"].thread_id = warm["idle"]
        for rnd in range(args.rounds):
            for name in servers if rnd % 2 == 0 else reversed(list(servers)):
                server = servers[name]
                time.sleep(1.0)  # a person between chats
                row = new_chat(server, pids[name], f"Repeat after me: chat {rnd}")
                server.thread_id = warm[name]
                server.op_turn(f"Repeat after me: lead {rnd}")
                time.sleep(0.05)
                row["warm_ms"] = server.op_turn(f"Repeat after me: warm {rnd}")["seconds"] * 1000
                rows[name].append(row)
            loads.append(os.getloadavg()[0])
    finally:
        for server in servers.values():
            server.op_close()
        model.close()
        shutil.rmtree(root, ignore_errors=True)
    report(
        f"codex: a new chat beside {args.idle} idle threads or none; {args.rounds} rounds",
        loads,
        rows,
        COLUMNS,
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--idle", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--caw", action="store_true", help="through caw-server instead")
    sys.exit(main(parser.parse_args()))
