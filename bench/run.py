#!/usr/bin/env python3
"""caw's benchmarks: caw against the bare CLIs and against caw 0.1.9, side by side (issue 6).

    .venv/bin/python bench/run.py                 # the full run (~15 min on 2 cores), see docs/benchmarks.md
    .venv/bin/python bench/run.py --quick         # a few turns of everything, to keep the harness working (CI)
    .venv/bin/python bench/run.py --render DIR    # re-make DIR/results.md (and the chart) from DIR/results.json

Every measurement drives the real pinned CLIs (tests/backends) against caw's
scripted model server on 127.0.0.1 (offline, deterministic). Writes
``results.json``, ``results.md`` and, with matplotlib installed (the ``bench``
extra), ``latency.png`` and ``first-answer.png`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    BENCH,
    FLOOR,
    LIBRARY,
    OLD,
    PROVIDERS,
    SERVER,
    SERVER_NODATA,
    Run,
    ensure_caw019,
    environment,
    log,
)

PHASES = ("turns", "streaming", "resume", "concurrency", "memory", "large", "first")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="a handful of turns of every measurement, no caw 0.1.9 (for CI; no timing claims)",
    )
    p.add_argument(
        "--providers", default=",".join(PROVIDERS), help="comma-separated (default: all three)"
    )
    p.add_argument(
        "--latency",
        default=None,
        help="model time-to-first-token in seconds, comma-separated (default 0,0.2; quick: 0)",
    )
    p.add_argument(
        "--turns",
        type=int,
        default=None,
        help="measured turns per column, after turn 1 (default 20; quick: 3)",
    )
    p.add_argument(
        "--old-turns",
        type=int,
        default=10,
        help="measured turns of caw 0.1.9 (default 10: its turns take seconds)",
    )
    p.add_argument(
        "--only",
        default=",".join(PHASES),
        help=f"measurements to run, comma-separated: {', '.join(PHASES)}",
    )
    p.add_argument(
        "--sessions", default=None, help="concurrency levels (default 1,10,50; quick: 2)"
    )
    p.add_argument(
        "--caw019",
        dest="caw019",
        action="store_true",
        default=None,
        help="include caw 0.1.9 (default: yes, except with --quick)",
    )
    p.add_argument("--no-caw019", dest="caw019", action="store_false", help="leave caw 0.1.9 out")
    p.add_argument(
        "--large",
        default=None,
        help="large answers as CHARS/DELTA, comma-separated (default 1000000/20,10000000/1000,"
        "30000000/1000; quick: 300000/20)",
    )
    p.add_argument(
        "--no-data-dir",
        action="store_true",
        help="caw library and caw-server without a data dir (default: both record to one)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default bench/results/<timestamp>)",
    )
    p.add_argument(
        "--chart",
        type=Path,
        default=None,
        help="also write the chart here (e.g. docs/benchmarks-latency.png)",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the scratch directory (homes, data dirs, driver logs)",
    )
    p.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="DIR",
        help="only re-make DIR/results.md and the chart from DIR/results.json",
    )
    return p.parse_args(argv)


def make_run(ns: argparse.Namespace, root: Path) -> Run:
    providers = [p.strip() for p in ns.providers.split(",") if p.strip()]
    unknown = set(providers) - set(PROVIDERS)
    if unknown:
        raise SystemExit(f"unknown providers: {', '.join(sorted(unknown))}")
    latencies = [float(x) for x in (ns.latency or ("0" if ns.quick else "0,0.2")).split(",")]
    with_old = ns.caw019 if ns.caw019 is not None else not ns.quick
    # Without --quick, caw-server also runs without a data dir: what recording every turn costs.
    nodata = [SERVER_NODATA] if not ns.quick and not ns.no_data_dir else []
    variants = [FLOOR, LIBRARY, SERVER, *nodata] + ([OLD] if with_old else [])
    turns = ns.turns if ns.turns is not None else (3 if ns.quick else 20)
    sessions = [int(x) for x in (ns.sessions or ("2" if ns.quick else "1,10,50")).split(",")]
    # Quick mode keeps opencode (whose serve takes seconds to start) to the per-turn measurement.
    deep = [p for p in providers if p != "opencode"] if ns.quick else providers
    run = Run(
        root=root, providers=providers, deep_providers=deep or providers, latencies=latencies, variants=variants, sessions=sessions,
        turns=turns, old_turns=min(turns, ns.old_turns), quick=ns.quick, data_dir=not ns.no_data_dir,
    )  # fmt: skip
    if ns.quick:
        run.streaming_turns, run.streaming_words = 1, 10
        run.resume_reps, run.concurrency_turns = 1, 2
        run.memory_sessions, run.idle_timeout = 2, 2.0
        run.cold_reps, run.first_reps, run.first_turns, run.idle_sessions = 2, 1, 2, 3
    large = ns.large or ("300000/20" if ns.quick else None)
    if large:
        run.large_sizes = [(int(c), int(d)) for c, d in (x.split("/") for x in large.split(","))]
    return run


# --- what the run ran on --------------------------------------------------------------


def _first_line(argv: list[str], env: dict[str, str] | None = None) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else None


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem, "kernel": platform.release(), "os": platform.platform(),
        "python": platform.python_version(), "node": _first_line(["node", "--version"]),
    }  # fmt: skip


def versions(run: Run, caw019: str | None) -> dict[str, Any]:
    import caw

    out: dict[str, Any] = {"caw": caw.__version__, "caw 0.1.9": caw019}
    scratch = run.root / "versions"
    for provider, cli in (("claude_code", "claude"), ("codex", "codex"), ("opencode", "opencode")):
        env = environment(provider, "http://127.0.0.1:9", scratch)
        out[cli] = _first_line([cli, "--version"], env)
    return out


# --- main -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ns = parse_args(argv)
    if ns.render:
        from report import render

        rendered = json.loads((ns.render / "results.json").read_text())
        render(rendered, ns.render, ns.chart)
        return 0
    only = [p.strip() for p in ns.only.split(",") if p.strip()]
    bad = set(only) - set(PHASES)
    if bad:
        raise SystemExit(f"unknown measurements: {', '.join(sorted(bad))}")
    out = ns.out or BENCH / "results" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="caw-bench-"))
    run = make_run(ns, root)
    started = time.monotonic()
    results: dict[str, Any] = {
        "meta": {
            "command": "python bench/run.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "quick": run.quick, "providers": run.providers, "latencies": run.latencies, "turns": run.turns,
            "variants": run.variants, "data_dir": run.data_dir, "phases": only,
            "load_at_start": os.getloadavg(), "machine": machine(),
        },
    }  # fmt: skip
    try:
        caw019 = ensure_caw019() if OLD in run.variants else None
        results["meta"]["versions"] = versions(run, caw019)
        log("versions:", results["meta"]["versions"])
        if "turns" in only:
            from phases import turns

            results["turns"] = {f"{lat:g}": turns.run(run, lat) for lat in run.latencies}
        if "streaming" in only:
            from phases import streaming

            results["streaming"] = streaming.run(run)
        if "resume" in only:
            from phases import resume

            results["resume"] = resume.run(run)
        if "concurrency" in only:
            from phases import concurrency

            results["concurrency"] = concurrency.run(run)
        if "memory" in only:
            from phases import memory

            results["memory"] = memory.run(run)
        if "large" in only:
            from phases import large

            results["large"] = large.run(run)
        if "first" in only:
            from phases import first_answer

            results["first"] = first_answer.run(run)
    except KeyboardInterrupt:
        run.error("run", "interrupted")
    finally:
        run.close()
        results["meta"]["seconds"] = time.monotonic() - started
        results["meta"]["load_at_end"] = os.getloadavg()
        results["errors"] = run.errors
        (out / "results.json").write_text(json.dumps(results, indent=1))
        if ns.keep:
            log("scratch directory kept:", root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    from report import render

    render(results, out, ns.chart)
    log(
        f"done in {results['meta']['seconds']:.0f} s: {out / 'results.md'}"
        + (f" ({len(run.errors)} errors)" if run.errors else "")
    )
    return 1 if run.errors else 0


if __name__ == "__main__":
    sys.exit(main())
