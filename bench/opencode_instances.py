#!/usr/bin/env python3
"""opencode's warm turn, caw-server against its floor, over many serve instances (issue 20).

    .venv/bin/python bench/opencode_instances.py [--pairs 8] [--turns 15] [--warm 3] [--no-control]

bench/run.py's turns phase compares one floor serve with one caw-server serve, and two
identical serves differ by several per cent on their own (bench/opencode_gap.py), so its
caw-server / floor ratio for opencode is one draw of an instance pair. This runs N pairs,
one after another, against one scripted model server at 0 ms (harness.ModelServer), each
column with a fresh home (harness.start_driver):

- ``floor``: bench/drivers/floor_opencode.py (the bare ``opencode serve``);
- ``server``: caw-server with a data dir (bench/drivers/caw_daemon.py), as in the turns phase;
- ``--extra library,server_nodata``: the caw library and caw-server without a data dir, which
  split caw-server's excess into the library's, the JSON-RPC hop's and the data dir's;
- ``floor2`` (the control, unless ``--no-control``): a second floor, so the floor-vs-floor
  spread (instance to instance, no caw at all) is measured beside the caw-vs-floor one.

Per pair: open each column, ``--warm`` unmeasured turns each, then ``--turns`` measured
rounds paced as the turns phase paces them: round r sends one turn to each column, the order
rotating each round (A B C, B C A, ...), with ``--settle`` (50 ms) after every turn, so the
other columns' turns fall between a column's turns. Printed per pair: each column's median
and the ratios server/floor and floor2/floor, with the turn split by the model server's
timing log (``to model``: turn sent -> the model server has the request; ``after``: last
delta -> turn answered); then, over the pairs, min / median / max of each ratio, the pooled
ratio (median of all the pairs' turns), and the load average before and after.

Findings (opencode 1.18.33, 2 shared vCPUs, 2026-11-30, 8 pairs x 15 rounds, load 1.4-2.6):

- The instance draw: one pair's server/floor ratio ranged 0.94-1.38x within a run, and the
  control's floor2/floor 0.83-1.23x, so a single pair (the turns phase's) can land anywhere
  from ~0.95x to ~1.35x with no change in caw.
- Averaged out (pooled medians, four runs): server/floor 1.047, 1.093, 1.095, 1.095x (median
  of the pair ratios 1.056, 1.036, 1.103, 1.096x), floor2/floor 1.010, 0.955, 1.005, 0.963x:
  within 1.15x, with a small excess beyond the control in every run, 2.2-4.7 ms on 44-50 ms.
- Where (by the model server's log, runs with ``--extra library,server_nodata``): before the
  model is asked, server +5.8 / +7.7 ms over floor, server_nodata +2.6 / +3.3 ms (so the data
  dir's records ~3-4 ms, the rest the JSON-RPC hop and caw's request); from the model's request
  to the turn's end, caw's columns 1-3 ms longer (the floor's POST returns ~2.5 ms before
  its event reader sees the last delta; caw ends the turn ~1.5 ms after its own).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (
    FLOOR,
    LIBRARY,
    SERVER,
    SERVER_NODATA,
    Driver,
    DriverError,
    Run,
    log,
    start_driver,
    variant,
)
from phases.turns import _turn

PROVIDER = "opencode"
FLOOR2 = "floor2"  # a second bare serve: the control


def _variant(key: str, data: Path):
    return variant(FLOOR if key == FLOOR2 else key, PROVIDER, data)


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def run_pair(run: Run, index: int, keys: list[str], warm: int, server: Any) -> dict[str, Any]:
    """One instance pair (plus control): open, warm, then run.turns rotating rounds."""
    area = f"pair{index}"
    data = run.root / "data" / area
    drivers: dict[str, Driver] = {}
    samples: dict[str, list[float]] = {key: [] for key in keys}
    phases: dict[str, dict[str, list[float]]] = {key: {} for key in keys}
    load_before = _load()
    try:
        for key in keys:
            v = _variant(key, data)
            v.key = key  # its own home (start_driver names it by the key)
            drivers[key] = start_driver(run, v, server.base_url, area, f"{area}-{key}")
            drivers[key].call("open", timeout=120)
            for _ in range(warm):
                _turn(run, drivers[key], server)
        for r in range(run.turns):
            order = keys[r % len(keys) :] + keys[: r % len(keys)]
            for key in order:
                t = _turn(run, drivers[key], server)
                samples[key].append(t["seconds"])
                for name, value in (t.get("phases") or {}).items():
                    phases[key].setdefault(name, []).append(value)
                time.sleep(run.settle)
    finally:
        for driver in drivers.values():
            driver.close()
    return {
        "samples": samples,
        "phases": phases,
        "load": f"{load_before} -> {_load()}",
    }


def _ms(x: float) -> str:
    return f"{x * 1000:6.1f}"


def report(pairs: list[dict[str, Any]], keys: list[str]) -> None:
    others = [k for k in keys if k != FLOOR]
    print(f"\n{'pair':>4} " + " ".join(f"{k:>7}" for k in keys), end="")
    print(" " + " ".join(f"{k + '/fl':>10}" for k in others), end="")
    print("   to model (ms)        after (ms)        load 1/5/15 before -> after")
    ratios: dict[str, list[float]] = {k: [] for k in others}
    for i, pair in enumerate(pairs):
        med = {k: statistics.median(pair["samples"][k]) for k in keys}
        line = f"{i:>4} " + " ".join(_ms(med[k]) + " " for k in keys)
        for k in others:
            ratios[k].append(med[k] / med[FLOOR])
            line += f" {med[k] / med[FLOOR]:9.3f}x"
        for phase in ("to_model", "after_last_delta"):
            line += "  " + "/".join(
                _ms(statistics.median(pair["phases"][k].get(phase) or [float("nan")])).strip()
                for k in keys
            ).ljust(17)
        print(line + "  " + pair["load"])
    print(f"\nover {len(pairs)} pairs (ratio of medians per pair): min / median / max")
    for k in others:
        rs = sorted(ratios[k])
        print(f"  {k}/floor: {rs[0]:.3f} / {statistics.median(rs):.3f} / {rs[-1]:.3f}")
    pooled = {k: statistics.median([s for p in pairs for s in p["samples"][k]]) for k in keys}
    print(
        "pooled (median of every pair's turns): "
        + ", ".join(f"{k} {_ms(pooled[k]).strip()} ms" for k in keys)
    )
    for k in others:
        print(f"  pooled {k}/floor: {pooled[k] / pooled[FLOOR]:.3f}x")
    for phase in ("to_model", "model_and_stream", "after_last_delta"):
        vals = {
            k: statistics.median(
                [v for p in pairs for v in p["phases"][k].get(phase, [])] or [float("nan")]
            )
            for k in keys
        }
        print(f"  pooled {phase}: " + ", ".join(f"{k} {_ms(vals[k]).strip()} ms" for k in keys))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=8, help="instance pairs (default 8)")
    parser.add_argument(
        "--turns", type=int, default=15, help="measured rounds per pair (default 15)"
    )
    parser.add_argument(
        "--warm", type=int, default=3, help="unmeasured turns per column (default 3)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0.05,
        help="pause after each turn (default 0.05 s, as the turns phase)",
    )
    parser.add_argument(
        "--extra",
        default="",
        help=f"more columns, comma-separated: {LIBRARY} (the caw library in-process over serve), "
        f"{SERVER_NODATA} (caw-server without a data dir); with both, 5 columns pace turns as the turns phase does",
    )
    parser.add_argument("--no-control", action="store_true", help="no second floor")
    ns = parser.parse_args()
    extra = [k for k in ns.extra.split(",") if k]
    if unknown := set(extra) - {LIBRARY, SERVER_NODATA}:
        parser.error(f"--extra: unknown column(s) {', '.join(sorted(unknown))}")
    keys = [FLOOR, SERVER, *extra] + ([] if ns.no_control else [FLOOR2])
    root = Path(tempfile.mkdtemp(prefix="caw-opencode-instances-"))
    run = Run(
        root=root, providers=[PROVIDER], deep_providers=[], latencies=[0.0], turns=ns.turns,
        quick=False, old_turns=0, variants=keys, settle=ns.settle,
    )  # fmt: skip
    pairs: list[dict[str, Any]] = []
    log(f"load {_load()}; {ns.pairs} pairs of {', '.join(keys)}, {ns.turns} rounds each")
    try:
        server = run.model_server(0.0)
        for i in range(ns.pairs):
            try:
                pair = run_pair(run, i, keys, ns.warm, server)
            except DriverError as exc:
                run.error(f"pair {i}", exc)
                continue
            pairs.append(pair)
            med = {k: statistics.median(pair["samples"][k]) for k in keys}
            log(
                f"pair {i}: "
                + ", ".join(f"{k} {_ms(med[k]).strip()} ms" for k in keys)
                + f"; load {pair['load']}"
            )
    finally:
        run.close()
        shutil.rmtree(root, ignore_errors=True)
    if pairs:
        report(pairs, keys)
    print(f"load average at the end: {_load()}")
    return 1 if run.errors else 0


if __name__ == "__main__":
    sys.exit(main())
