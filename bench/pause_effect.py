#!/usr/bin/env python3
"""What a person's pause costs a warm turn: the bare CLI and caw-server, interleaved (issue 20).

    .venv/bin/python bench/pause_effect.py --provider codex [--pairs 12] [--pause 1.0] [--short 0.05]
        [--targets floor,server] [--json FILE]

One warm backend per target, driven by the same drivers as bench/run.py
(``floor``: bench/drivers/floor_*.py, the bare CLI; ``server``:
bench/drivers/caw_daemon.py, caw-server without a data dir), against the
scripted model server (bench/model_server.py, answers at 0 ms) in a process of
its own. After two unmeasured turns per target, each pair is, for each target,
in alternating order: a turn, ``--short`` seconds, a measured turn; a turn,
``--pause`` seconds, a measured turn. So every measured turn follows its own
backend's previous turn by exactly the pause, and nothing else on the machine
is measured meanwhile.

Each measured turn is split at the model server: ``to_model`` (send -> the
model request arrived), ``in_model`` (request arrived -> its last delta
written) and ``after_model`` (last delta written -> the turn's end as the
driver saw it). Medians, paired differences and the load average are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import FLOOR, SERVER_NODATA, Driver, ModelServer, environment, variant

TARGETS = {"floor": FLOOR, "server": SERVER_NODATA}
PARTS = ("wall", "to_model", "in_model", "after_model")


def measured_turn(driver: Driver, model: ModelServer, token: str) -> dict[str, float]:
    reply = driver.call("turn", text=f"Repeat after me: {token}")
    row = {"wall": reply["seconds"] * 1000}
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


def report(rows: dict[str, dict[str, list[dict[str, float]]]], pauses: dict[str, float]) -> None:
    for target, by_pause in rows.items():
        print(f"  {target}:")
        print(f"    {'pause':>7s} " + " ".join(f"{p:>11s}" for p in PARTS) + "   (medians, ms)")
        for name, turns in by_pause.items():
            cells = [median([t[p] for t in turns if p in t]) for p in PARTS]
            print(f"    {pauses[name]:6.2f}s " + " ".join(f"{c:11.2f}" for c in cells))
        short, long = by_pause["short"], by_pause["long"]
        diffs = [
            median([b[p] - a[p] for a, b in zip(short, long, strict=True) if p in a and p in b])
            for p in PARTS
        ]
        print("    long-short (paired) " + " ".join(f"{d:+11.2f}" for d in diffs))


def main(args: argparse.Namespace) -> int:
    root = Path(tempfile.mkdtemp(prefix="caw-pause-"))
    work = root / "work"
    work.mkdir()
    model = ModelServer(root / "model")
    env = environment(args.provider, model.base_url, root)
    env.update(dict(kv.split("=", 1) for kv in args.env))
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    drivers: dict[str, Driver] = {}
    pauses = {"short": args.short, "long": args.pause}
    rows: dict[str, dict[str, list[dict[str, float]]]] = {
        t: {"short": [], "long": []} for t in targets
    }
    loads = [os.getloadavg()[0]]
    try:
        for target in targets:
            v = variant(TARGETS[target], args.provider, None)
            drivers[target] = Driver(target, v.argv, env, work, root / "logs")
            drivers[target].call("open")
            for i in range(2):
                drivers[target].call("turn", text=f"Repeat after me: warm {target} {i}")
        if args.pids_file:  # for strace -p / perf: the drivers' and their backends' pids
            Path(args.pids_file).write_text(json.dumps({t: d.proc.pid for t, d in drivers.items()}))
        if args.before_pairs:
            time.sleep(args.before_pairs)
        for pair in range(args.pairs):
            order = [(t, p) for t in targets for p in ("short", "long")]
            if pair % 2:
                order.reverse()
            for target, name in order:
                driver = drivers[target]
                driver.call("turn", text=f"Repeat after me: lead {target} {pair} {name}")
                time.sleep(pauses[name])
                token = f"m{pair}{name}{target}x"
                rows[target][name].append(measured_turn(driver, model, token))
            loads.append(os.getloadavg()[0])
    finally:
        for driver in drivers.values():
            driver.close()
        model.close()
    print(
        f"{args.provider}: a warm turn {args.short:g} s vs {args.pause:g} s after the one before; "
        f"{args.pairs} pairs interleaved"
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
    parser.add_argument("--pause", type=float, default=1.0, help="the long pause, seconds")
    parser.add_argument("--short", type=float, default=0.05, help="the short pause, seconds")
    parser.add_argument("--targets", default="floor,server", help="floor and/or server")
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the CLI")
    parser.add_argument("--pids-file", default="", help="write the drivers' pids here")
    parser.add_argument("--before-pairs", type=float, default=0.0, help="seconds to wait first")
    parser.add_argument("--json", default="", help="write every turn's numbers here")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main(parse_args()))
