#!/usr/bin/env python3
"""What a person's pause costs a warm turn: the bare CLI and caw-server, interleaved (issue 20).

    .venv/bin/python bench/pause_effect.py --provider codex [--pairs 12] [--pauses 0.05,1]
        [--targets floor,server] [--data-dir] [--json FILE]

One warm backend per target, driven by the same drivers as bench/run.py
(``floor``: bench/drivers/floor_*.py, the bare CLI; ``server``:
bench/drivers/caw_daemon.py, caw-server, without a data dir unless ``--data-dir``), against the
scripted model server (bench/model_server.py, answers at 0 ms) in a process of
its own. After two unmeasured turns per target, each pair is, for each target,
in alternating order, for each of ``--pauses``: a turn, that many seconds, a
measured turn. So every measured turn follows its own
backend's previous turn by exactly the pause, and nothing else on the machine
is measured meanwhile.

``cpu`` and ``runq_wait``: what the driver's child processes (the CLI; caw-server
and its CLI) ran and waited runnable for a CPU during the turn (schedstat). Each
measured turn is also split at the model server: ``to_model`` (send -> the
model request arrived), ``in_model`` (request arrived -> its last delta
written) and ``after_model`` (last delta written -> the turn's end as the
driver saw it). Medians, paired differences and the load average are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import FLOOR, SERVER, SERVER_NODATA, Driver, ModelServer, environment, variant

TARGETS = {"floor": FLOOR, "server": SERVER_NODATA}
PARTS = ("wall", "to_model", "in_model", "after_model", "cpu", "runq_wait", "minflt")
VARIANTS = ("50ms", "1s", "quiet+50ms", "quiet+1s", "chat+quiet+1s")


def descendants(root: int) -> list[int]:
    """The processes under ``root`` (not ``root`` itself: the driver's own work is not the turn's)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def scheduled(pids: list[int]) -> tuple[float, float, float]:
    """Milliseconds the threads of ``pids`` have run and have waited runnable for a CPU
    (/proc/PID/task/TID/schedstat): a turn's CPU, and what a busy machine added to it; and
    their minor page faults (memory an allocator gave back to the kernel, touched again)."""
    run = wait = faults = 0
    for pid in pids:
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
            faults += int((Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split())[7])
        except OSError:
            continue
        for task in tasks:
            try:
                fields = (task / "schedstat").read_text().split()
            except OSError:
                continue
            run, wait = run + int(fields[0]), wait + int(fields[1])
    return run / 1e6, wait / 1e6, float(faults)


def measured_turn(
    driver: Driver, model: ModelServer, token: str, pids: list[int]
) -> dict[str, float]:
    before = scheduled(pids)
    reply = driver.call("turn", text=f"Repeat after me: {token}")
    after = scheduled(pids)
    row = {
        "wall": reply["seconds"] * 1000,
        "cpu": after[0] - before[0],
        "runq_wait": after[1] - before[1],
        "minflt": after[2] - before[2],
    }
    record = model.find(token)
    if record is not None and record.get("deltas"):
        sent, end = reply["t_send"], reply["t_send"] + reply["seconds"]
        last = record["deltas"][-1][0]
        row["to_model"] = (record["t_request"] - sent) * 1000
        row["in_model"] = (last - record["t_request"]) * 1000
        row["after_model"] = (end - last) * 1000
    return row


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(rows: dict[str, dict[str, list[dict[str, float]]]], pauses: list[float]) -> None:
    for target, by_pause in rows.items():
        print(f"  {target}:")
        print(f"    {'pause':>7s} " + " ".join(f"{p:>11s}" for p in PARTS) + "   (medians, ms)")
        for pause in pauses:
            turns = by_pause[f"{pause:g}"]
            cells = [median([t[p] for t in turns if p in t]) for p in PARTS]
            print(f"    {pause:6.2f}s " + " ".join(f"{c:11.2f}" for c in cells))
        short = by_pause[f"{pauses[0]:g}"]
        for pause in pauses[1:]:
            long = by_pause[f"{pause:g}"]
            diffs = [
                median([b[p] - a[p] for a, b in zip(short, long, strict=True) if p in a and p in b])
                for p in PARTS
            ]
            print(
                f"    {pause:g}s - {pauses[0]:g}s, paired " + " ".join(f"{d:+11.2f}" for d in diffs)
            )


async def after_new_chat(
    args: argparse.Namespace, env: dict[str, str], root: Path, model: ModelServer
) -> dict[str, object]:
    """bench/phases/first_answer.py's "warm turn after the pause", taken apart: one caw-server
    (data dir, standby on), one warm session W; per round, in alternating order, W's measured
    turn after: ``50ms`` (a turn of W, 50 ms); ``quiet+1s`` (a turn of W, the daemon's tree
    quiet, 1 s); ``chat+quiet+1s`` (a turn of W, 1 s, a new chat started, answered and ended,
    the tree quiet, 1 s: the phase's own sequence); ``1s``, ``quiet+50ms`` likewise
    (``--variants``, 50ms first)."""
    from phases.first_answer import _quiet

    from caw.client import CawClient

    work = str(root / "work")
    client = await CawClient.spawn("--data-dir", str(root / "data"), env=env, cwd=work)
    names = tuple(args.variants.split(","))
    assert names[0] == "50ms" and set(names) <= set(VARIANTS), f"variants: {VARIANTS}"
    rows: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    chats: list[float] = []
    loads = [os.getloadavg()[0]]

    async def turn(session: str, token: str) -> dict[str, float]:
        assert client.pid is not None
        pids = [client.pid, *descendants(client.pid)]
        before, daemon_before = scheduled(pids), scheduled([client.pid])
        started = time.monotonic()
        await client.send(session, f"Repeat after me: {token}")
        end = time.monotonic()
        after, daemon_after = scheduled(pids), scheduled([client.pid])
        row = {
            "daemon_cpu": daemon_after[0] - daemon_before[0],
            "daemon_minflt": daemon_after[2] - daemon_before[2],
            "wall": (end - started) * 1000,
            "cpu": after[0] - before[0],
            "runq_wait": after[1] - before[1],
            "minflt": after[2] - before[2],
        }
        record = model.find(token)
        if record is not None and record.get("deltas"):
            last = record["deltas"][-1][0]
            row["to_model"] = (record["t_request"] - started) * 1000
            row["in_model"] = (last - record["t_request"]) * 1000
            row["after_model"] = (end - last) * 1000
        return row

    try:
        await client.initialize()
        warm = (await client.start_session(provider=args.provider, cwd=work))["sessionId"]
        for i in range(3):
            await turn(warm, f"warm{i}x")
        assert client.pid is not None
        await _quiet(client.pid)
        for rnd in range(args.pairs):
            for name in names if rnd % 2 == 0 else tuple(reversed(names)):
                await turn(warm, f"lead{rnd}{name}x")
                if name.startswith("chat"):
                    await asyncio.sleep(1.0)
                    started = time.monotonic()
                    chat = await client.start_session(provider=args.provider, cwd=work)
                    await client.send(chat["sessionId"], f"Repeat after me: chat{rnd}x")
                    chats.append((time.monotonic() - started) * 1000)
                    await client.end(chat["sessionId"])
                if "quiet" in name:
                    await _quiet(client.pid)
                await asyncio.sleep(0.05 if name.endswith("50ms") else 1.0)
                rows[name].append(await turn(warm, f"m{rnd}{name.replace('+', '')}x"))
            loads.append(os.getloadavg()[0])
    finally:
        await client.aclose(timeout=60)
    print(f"{args.provider}: caw-server, one warm session, {args.pairs} rounds interleaved")
    print(
        f"load average (1 min): start {loads[0]:.2f}, median {median(loads):.2f}, max {max(loads):.2f}"
    )
    print(f"  new chats between: median {median(chats):.2f} ms")
    parts = (*PARTS, "daemon_cpu", "daemon_minflt")
    print(
        f"    {'before W':>14s} " + " ".join(f"{p[-11:]:>11s}" for p in parts) + "   (medians, ms)"
    )
    for name in names:
        cells = [median([t[p] for t in rows[name] if p in t]) for p in parts]
        print(f"    {name:>14s} " + " ".join(f"{c:11.2f}" for c in cells))
    for name in names[1:]:
        pairs = list(zip(rows["50ms"], rows[name], strict=True))
        diffs = [median([b[p] - a[p] for a, b in pairs if p in a and p in b]) for p in parts]
        print(f"    {name + ' - 50ms':>14s} " + " ".join(f"{d:+11.2f}" for d in diffs))
    return {"loads": loads, "rows": rows, "chats": chats}


def main(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="caw-pause-"))
    work = root / "work"
    work.mkdir()
    model = ModelServer(root / "model")
    env = environment(args.provider, model.base_url, root)
    env.update(dict(kv.split("=", 1) for kv in args.env))
    if args.after_new_chat:
        try:
            result = asyncio.run(after_new_chat(args, env, root, model))
            if args.json:
                Path(args.json).write_text(json.dumps(result))
        finally:
            model.close()
            shutil.rmtree(root, ignore_errors=True)
        return 0
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    drivers: dict[str, Driver] = {}
    pids: dict[str, list[int]] = {}
    pauses = [float(p) for p in args.pauses.split(",")]
    rows: dict[str, dict[str, list[dict[str, float]]]] = {
        t: {f"{p:g}": [] for p in pauses} for t in targets
    }
    loads = [os.getloadavg()[0]]
    try:
        for target in targets:
            data_dir = root / "data" if args.data_dir and target == "server" else None
            key = SERVER if data_dir else TARGETS[target]
            v = variant(key, args.provider, data_dir)
            drivers[target] = Driver(target, v.argv, env, work, root / "logs")
            drivers[target].call("open")
            for i in range(2):
                drivers[target].call("turn", text=f"Repeat after me: warm {target} {i}")
            pids[target] = descendants(drivers[target].proc.pid)
        if args.pids_file:  # for strace -p / perf: the drivers' and their backends' pids
            Path(args.pids_file).write_text(json.dumps({t: d.proc.pid for t, d in drivers.items()}))
        if args.before_pairs:
            time.sleep(args.before_pairs)
        for pair in range(args.pairs):
            order = [(t, p) for t in targets for p in pauses]
            if pair % 2:
                order.reverse()
            for target, name in order:
                driver = drivers[target]
                driver.call("turn", text=f"Repeat after me: lead {target} {pair} {name}")
                time.sleep(name)
                token = f"m{pair}p{name:g}{target}x"
                rows[target][f"{name:g}"].append(measured_turn(driver, model, token, pids[target]))
            loads.append(os.getloadavg()[0])
    finally:
        for driver in drivers.values():
            driver.close()
        model.close()
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"{args.provider}: a warm turn {' / '.join(f'{p:g}' for p in pauses)} s after the one "
        f"before; {args.pairs} rounds interleaved"
    )
    print(
        f"load average (1 min): start {loads[0]:.2f}, median {median(loads):.2f}, "
        f"max {max(loads):.2f}"
    )
    report(rows, pauses)
    if args.json:
        Path(args.json).write_text(json.dumps({"loads": loads, "rows": rows}, indent=1))
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--provider", default="codex", choices=("claude_code", "codex", "opencode"))
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument(
        "--pauses", default="0.05,1", help="seconds before a measured turn; the first: the baseline"
    )
    parser.add_argument("--data-dir", action="store_true", help="caw-server records (a data dir)")
    parser.add_argument(
        "--after-new-chat", action="store_true", help="instead: see after_new_chat()"
    )
    parser.add_argument("--variants", default="50ms,quiet+1s,chat+quiet+1s", help=str(VARIANTS))
    parser.add_argument("--targets", default="floor,server", help="floor and/or server")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the CLI")
    parser.add_argument("--pids-file", default="", help="write the drivers' pids here")
    parser.add_argument("--before-pairs", type=float, default=0.0, help="seconds to wait first")
    parser.add_argument("--json", default="", help="write every turn's numbers here")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main(parse_args()))
