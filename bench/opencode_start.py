"""opencode's first answers, phase by phase: a fresh serve (a reopened editor) and a new chat.

    python bench/opencode_start.py [--pairs 10] [--before DIR]

Each repetition runs in a child process on caw's library (``AsyncAgent``) with a fresh
HOME, against caw.testing's scripted model server (answers at 0 ms):

- ``cold``: a new session on a fresh serve (spawn -> listening -> first answer);
- ``resume``: the session resumed in another fresh serve (``resume_session`` waits for
  serve to listen), then a send ``--gap`` seconds later (a person typing: serve warms up
  meanwhile), timed from the send to its answer; then a warm turn;
- ``new_chat``: on that running serve, ``start_session`` + its first send, then a warm turn;
- ``bare``: ``opencode --version`` (Bun's start and the loading of opencode's bundle).

With ``--before DIR`` (a caw source tree, e.g. ``git archive <commit> caw | tar -x -C DIR``)
every repetition runs once with that tree and once with this one, interleaved (A B B A ...),
and the medians are printed side by side with the load average.

Findings on the 2-core machine (issue 20, opencode 1.18.33), from serve's own log
(``--print-logs --log-level DEBUG``) and ``strace -f -tt``: serve listens 1.4-2.9 s after
its spawn, all of it opencode's own CPU work (``opencode --version`` alone takes 1.0 s,
0.57 s of it user CPU: Bun loading the 185 MB bundle; then its database, config and
instance), with no network wait on the way. Its first prompt then built, on that prompt's
path, the provider list (``GET /config/providers``, 1.1-1.6 s, already warmed up by caw
after the start), the tool registry (0.5-0.6 s; warmed up by caw now), its per-directory
services ("booting location services", 0.1-0.45 s) and the model SDK's first request
(0.3-0.4 s more than a warm one): those last two happen in the prompt whatever was asked
before. A new session's first prompt also made opencode ask the model for a title (a
second model request), which caw now avoids by naming its sessions itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PHASES = ("bare", "cold", "resume_start", "resume_send", "resume_warm", "new_chat", "new_warm")


async def _measure(base_url: str, home: Path, gap: float) -> dict[str, float]:
    from caw import AsyncAgent
    from caw.testing import cli_environment

    env = cli_environment("opencode", base_url, home)
    env.pop("CAW_OPENCODE_MODE", None)
    work = home / "work"
    work.mkdir()
    out: dict[str, float] = {}
    agent = AsyncAgent(provider="opencode", env=env, cwd=str(work))
    started = time.monotonic()
    session = await agent.start_session()
    await session.send("My code word is heron. Remember that.")
    out["cold"] = time.monotonic() - started
    handle = session.resume_handle
    await session.end()  # its serve stops with its last session

    started = time.monotonic()
    resumed = await agent.resume_session(handle)
    out["resume_start"] = time.monotonic() - started
    await asyncio.sleep(gap)
    started = time.monotonic()
    answer = await resumed.send("What is my code word?")
    out["resume_send"] = time.monotonic() - started
    if "heron" not in answer.result:
        raise RuntimeError(f"the resumed session answered {answer.result!r}")
    started = time.monotonic()
    await resumed.send("Say hi.")
    out["resume_warm"] = time.monotonic() - started

    await asyncio.sleep(gap)
    started = time.monotonic()
    chat = await agent.start_session()
    await chat.send("Say hello.")
    out["new_chat"] = time.monotonic() - started
    started = time.monotonic()
    await chat.send("Say hello again.")
    out["new_warm"] = time.monotonic() - started
    await chat.end()
    await resumed.end()
    return out


def _child(args: argparse.Namespace) -> None:
    home = Path(tempfile.mkdtemp(prefix="caw-oc-start-"))
    try:
        started = time.monotonic()
        subprocess.run(["opencode", "--version"], capture_output=True, check=True)
        bare = time.monotonic() - started
        out = asyncio.run(_measure(args.base_url, home, args.gap))
        print(json.dumps({"bare": bare, **out}))
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _run(tree: Path, base_url: str, gap: float) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env["PATH"] = (
        f"{ROOT / 'tests' / 'backends' / 'node_modules' / '.bin'}{os.pathsep}{env['PATH']}"
    )
    argv = [sys.executable, __file__, "--child", "--base-url", base_url, "--gap", str(gap)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, cwd="/")
    if done.returncode != 0:
        raise RuntimeError(f"the measurement failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds before a send")
    parser.add_argument("--before", type=Path, help="a caw source tree to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return

    from caw.testing.model_server import ScriptedModelServer

    trees = {"after": ROOT}
    if args.before:
        trees = {"before": args.before.resolve(), **trees}
    server = ScriptedModelServer().start()
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    loads = []
    try:
        for rep in range(args.pairs):
            order = list(trees) if rep % 2 == 0 else list(reversed(trees))
            for name in order:
                results[name].append(_run(trees[name], server.base_url, args.gap))
                loads.append(os.getloadavg()[0])
                row = {k: round(v, 3) for k, v in results[name][-1].items()}
                print(f"{rep} {name} {row}", file=sys.stderr, flush=True)
    finally:
        server.stop()
    print(f"{args.pairs} pairs, load average (1 min) median {statistics.median(loads):.2f}, "
          f"range {min(loads):.2f}-{max(loads):.2f}")  # fmt: skip
    print(f"{'phase (median s)':<14}" + "".join(f"{name:>10}" for name in trees))
    for phase in PHASES:
        cells = "".join(
            f"{statistics.median(r[phase] for r in results[name]):>10.3f}" for name in trees
        )
        print(f"{phase:<14}{cells}")
    for name in trees:
        rows = results[name]
        ratio = statistics.median(r["resume_send"] / r["resume_warm"] for r in rows)
        chat = statistics.median(r["new_chat"] / r["new_warm"] for r in rows)
        print(f"{name}: resumed send / warm turn {ratio:.2f}x, new chat / warm turn {chat:.2f}x")


if __name__ == "__main__":
    main()
