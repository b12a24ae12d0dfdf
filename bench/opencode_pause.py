#!/usr/bin/env python3
"""Why an opencode warm turn is slower after a 1 s pause than 50 ms after the last one (issue 20).

    .venv/bin/python bench/opencode_pause.py [--pairs 12] [--modes floor,caw] [--pauses 0.05,1]

One warm backend per mode, against caw.testing's scripted model server (answers at 0 ms, in
this process), offline; turns alternate between one preceded by a 50 ms pause and one
preceded by a 1 s pause (``--pauses``: any list), the order reversed every other round:

- ``floor``: the bare CLI as bench/drivers/floor_opencode.py drives it (``opencode serve``,
  a ``GET /event`` reader, one blocking ``POST /session/{id}/message``; imported, run here);
- ``caw``: caw-server (``python -m caw_server --no-data-dir``) through caw.client.CawClient,
  one ``session/send``.

Printed per mode and pause (medians): the turn; ``to model`` (turn sent -> the model server
has the request), ``model`` (the model server's own time for it), ``after`` (answer written ->
turn answered); serve's CPU during the turn and during the pause before it, per thread group
(``/proc/PID/task/*/stat``); and how many turns opened a new connection to the model server.
A mode ``floor+K=V`` (or ``caw+K=V``) runs its serve with that variable too (an experiment, e.g.
a Bun or JSC option); all modes' backends run at once, their turns interleaved. ``1p`` in
``--pauses``: a 1 s pause with ``GET /path`` every 50 ms (floor only). ``--mark``: each turn
marked on stderr with its wall-clock time, beside serve's own log (``--print-logs``, e.g. via a
wrapper on the mode's ``PATH``) or ``BUN_JSC_logGC=1``. ``--synthetic``: no serve; one fixed
workload (JSON out and back, strings) after each pause in opencode's own Bun (its binary run with
``BUN_BE_BUN=1``) and in Python, with CPU time and page faults.

Findings (opencode 1.18.33 on Bun 1.3.14, 2 shared vCPUs, 2026-11-30):

- Not caw: the bare CLI shows it (12 pairs, load 2.2-2.9: floor 59.8 -> 69.8 ms, caw-server
  65.1 -> 79.7 ms; load 2.0-2.5: floor 40.1 -> 48.0 ms, serve's JavaScript thread 37.2 -> 44.7 ms
  of CPU per turn). No connection is opened after a pause: opencode's to the model server is
  reused (0 new in every run), caw-server's to serve too (strace: no connect() in the measured
  turns; httpx keeps a connection 5 s). The scripted model server answers in 0.5-1.1 ms either way.
- Not the machine alone: the same workload in Python is not slower after a pause (CPU 13.30 /
  13.48 / 13.89 ms after 0.05 / 0.3 / 1 s, no page faults), in Bun it is (load 8-9: 4.0 ms CPU and
  ~470 page faults after 0.05 or 0.4 s, 6.6-6.9 ms and ~2,090 faults after 0.6, 0.8, 1 or 2 s).
- The cause that can be named: JavaScriptCore's allocator (WebKit bmalloc/libpas, in Bun) returns
  pages freed by a turn to the kernel once they have been unused for ~0.5 s: a background thread
  of the process (in a timed wait between rounds) calls madvise(MADV_DONTNEED) + MADV_DONTDUMP,
  in rounds every ~100 ms, in bulk 0.5-0.6 s after the work (strace -f: 30-263 pages in the first
  100 ms, thousands by 0.6 s); the next turn faults each page back in, zero-filled. Bun's 1 s GC
  timer is not it (``BUN_GC_TIMER_DISABLE=1``: the same 3.7 -> 6.6 ms, 462 -> 2,128 faults);
  WebKit's ``Malloc=1`` (system malloc for fastMalloc; a debug switch, not a fix) halves it (4.1 ->
  5.3 ms, 306 -> 948 faults). In serve the faults grow with the pause (load 8.8: 1,686 / 1,706 /
  2,127 / 2,249 / 2,683 per turn after 0.05 / 0.15 / 0.3 / 0.5 / 1 s; 1,370 -> 2,746 at load 5.4):
  at ~1.6 us a fault (the synthetic: +3 ms for +1,630 faults) ~2-2.5 ms of opencode's 8-10 ms.
- The rest is spread over the whole turn, not one step: serve's log (16 pairs, load 5.4) puts
  every stretch (request -> loop, loop -> process, the model's stream, loop end -> answer) 0.5-1 ms
  longer after a pause; consistent with a process that has gone cold (caches, TLB), which this
  VM cannot confirm (perf: no hardware counters). At load 5-6 the difference disappears
  (floor 139.4 vs 143.2 ms): every turn is then cold.
- caw cannot remove it: it is inside serve's runtime; caw passes no allocator switch to it.
- A session's first prompt (bench/opencode_first_prompt.py's ~4 ms after the model's answer at
  load 0.3) was not reproduced against a later prompt after the same idle time (12 sessions,
  load 3.3-4.4; first prompt 1 s after the session's creation, second 1 s after the first):
  after the model's answer 23.0 vs 30.9 ms, serve's CPU 55.3 vs 59.2 ms, page faults 1,937 vs
  1,739. Under strace -f a first prompt that came ~2 s after the last turn made 177 madvise calls
  after the model's answer against 95 for its second prompt (1 s after it): the same allocator
  recommitting pages, more of them the longer serve was idle.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent / "drivers"))


class Timing:
    """The scripted server's observer: when each model request arrived and was answered."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.finished: list[float] = []

    def request_started(self, rec: Any) -> None:
        self.started.append(time.monotonic())

    def event_written(self, rec: Any, name: str, data: dict[str, Any]) -> None:
        pass

    def request_finished(self, rec: Any) -> None:
        self.finished.append(time.monotonic())


ACCEPTED: list[float] = []  # when the model server accepted each connection


def count_connections() -> None:
    from caw.testing.model_server import server

    setup = server._Handler.setup

    def counted(self: Any) -> None:
        ACCEPTED.append(time.monotonic())
        setup(self)

    patch.object(server._Handler, "setup", counted).start()  # this measurement only


def thread_group(name: str) -> str:
    """A thread's name without its number (``HeapHelper3`` -> ``HeapHelper``)."""
    return re.sub(r"[\d\s#:-]+$", "", name) or name


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of ``pid``'s threads so far (schedstat: ns, not ticks), per thread group."""
    out: dict[str, float] = defaultdict(float)
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            ns = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):  # a thread that just ended
            continue
        out["main" if task.name == str(pid) else thread_group(name)] += ns / 1e9
    return out


def faults(pid: int) -> int:
    """Minor page faults of ``pid`` so far (a page the kernel maps in and zeroes on first touch)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[7])


def minus(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: a.get(k, 0.0) - b.get(k, 0.0) for k in a}


def serve_pid_under(pid: int) -> int:
    """The ``opencode serve`` process among ``pid``'s descendants."""
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").iterdir():
            for child in (task / "children").read_text().split():
                cmd = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
                if any(b"opencode" in c for c in cmd) and b"serve" in cmd:
                    return int(child)
                todo.append(int(child))
    raise RuntimeError(f"no opencode serve under pid {pid}")


class Floor:
    def __init__(self, env: dict[str, str], work: str) -> None:
        from floor_opencode import OpencodeFloor

        self.env, self.work = env, work
        self.floor = OpencodeFloor()

    async def open(self) -> int:
        saved = dict(os.environ)  # the floor driver starts serve with this process's environment
        os.environ.clear()
        os.environ.update(self.env)
        os.chdir(self.work)
        try:
            return int(self.floor.op_open()["pid"])
        finally:
            os.environ.clear()
            os.environ.update(saved)

    async def turn(self, text: str) -> None:
        await asyncio.to_thread(self.floor.op_turn, text)

    async def ping_for(self, seconds: float) -> None:
        """``GET /path`` every 50 ms for ``seconds`` (serve answers it from memory)."""
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.floor.port)
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(0.05, left))
            if end - time.monotonic() > 0.05:
                conn.request("GET", "/path", headers={"Authorization": self.floor.auth})
                conn.getresponse().read()
        conn.close()

    async def close(self) -> None:
        self.floor.op_close()


class Daemon:
    def __init__(self, env: dict[str, str], work: str) -> None:
        self.env, self.work = env, work
        self.client: Any = None
        self.session = ""

    async def open(self) -> int:
        from caw.client import CawClient

        self.client = await CawClient.spawn("--no-data-dir", env=self.env, cwd=self.work)
        await self.client.initialize()
        started = await self.client.start_session(provider="opencode", cwd=self.work)
        self.session = started["sessionId"]
        return serve_pid_under(self.client.pid)

    async def turn(self, text: str) -> None:
        await self.client.send(self.session, text)

    async def ping_for(self, seconds: float) -> None:
        raise NotImplementedError("pinging serve during a pause: floor modes only")

    async def close(self) -> None:
        await self.client.end(self.session)
        await self.client.aclose()


def make_driver(mode: str, env: dict[str, str], work: str) -> Floor | Daemon:
    """``floor`` or ``caw``, optionally ``+K=V+...``: serve gets those variables too."""
    kind, *extra = mode.split("+")
    env = {**env, **dict(kv.split("=", 1) for kv in extra)}
    return Floor(env, work) if kind == "floor" else Daemon(env, work)


async def run_all(
    args: argparse.Namespace, env: dict[str, str], work: str, timing: Timing
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """All modes' backends at once, turns interleaved mode by mode and pause by pause."""
    modes = args.modes.split(",")
    drivers: dict[str, Floor | Daemon] = {}
    pids: dict[str, int] = {}
    try:
        for mode in modes:
            drivers[mode] = make_driver(mode, env, work)
            pids[mode] = await drivers[mode].open()
            for i in range(3):  # warm-up, unmeasured
                await drivers[mode].turn(f"Repeat after me: warming {i}")
                await asyncio.sleep(0.05)
        rows: dict[str, dict[str, list[dict[str, Any]]]] = {
            m: {p: [] for p in args.pauses} for m in modes
        }
        for pair in range(args.pairs):
            order = modes[pair % len(modes) :] + modes[: pair % len(modes)]
            for mode in order:
                pid, driver = pids[mode], drivers[mode]
                for which in args.pauses if pair % 2 == 0 else args.pauses[::-1]:
                    pause = float(which.rstrip("p"))
                    before_pause = thread_cpu(pid)
                    if which.endswith("p"):  # keep serve busy: a cheap request every 50 ms
                        await driver.ping_for(pause)
                    else:
                        await asyncio.sleep(pause)
                    seen, accepted = len(timing.started), len(ACCEPTED)
                    before_turn, faults_before = thread_cpu(pid), faults(pid)
                    sent = time.monotonic()
                    if args.mark:
                        print(
                            f"@@ {mode} {which} turn starts at {time.time():.6f}",
                            file=sys.stderr,
                            flush=True,
                        )
                    await driver.turn(f"Repeat after me: {which} {pair}")
                    done = time.monotonic()
                    if args.mark:
                        print(
                            f"@@ {mode} {which} turn ends at {time.time():.6f}",
                            file=sys.stderr,
                            flush=True,
                        )
                    row: dict[str, Any] = {
                        "wall": done - sent,
                        "pause_cpu": minus(before_turn, before_pause),
                        "turn_cpu": minus(thread_cpu(pid), before_turn),
                        "new_conn": len(ACCEPTED) > accepted,
                        "faults": faults(pid) - faults_before,
                        "load": os.getloadavg()[0],
                    }
                    if len(timing.finished) > seen:
                        row["to_model"] = timing.started[seen] - sent
                        row["model"] = timing.finished[seen] - timing.started[seen]
                        row["after"] = done - timing.finished[seen]
                    rows[mode][which].append(row)
        return rows
    finally:
        for driver in drivers.values():
            await driver.close()


def report(mode: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    def med(which: str, key: str) -> float:
        values = [r[key] for r in rows[which] if key in r]
        return statistics.median(values) * 1000 if values else float("nan")

    pauses = list(rows)
    loads = [r["load"] for which in rows for r in rows[which]]
    print(f"== {mode}: {len(rows[pauses[0]])} rounds interleaved, load (1 min) "
          f"{min(loads):.1f}-{max(loads):.1f}, median {statistics.median(loads):.1f}")  # fmt: skip
    for which in pauses:
        new = sum(r["new_conn"] for r in rows[which])
        print(f"  after {which:>4s} s: turn {med(which, 'wall'):6.1f}  to model {med(which, 'to_model'):5.1f}"
              f"  model {med(which, 'model'):4.1f}  after {med(which, 'after'):5.1f} ms;"
              f"  new model connections {new}/{len(rows[which])};"
              f"  page faults {statistics.median(r['faults'] for r in rows[which]):.0f}")  # fmt: skip
    groups = sorted({g for which in rows for r in rows[which] for g in r["turn_cpu"]})
    heads = [f"turn/{p}" for p in pauses] + [f"pause/{p}" for p in pauses]
    print(f"  serve CPU, ms (median): {'group':16s} " + " ".join(f"{h:>10s}" for h in heads))

    def cells(value: Any) -> list[float]:
        return [
            statistics.median(value(r[part]) for r in rows[which]) * 1000
            for part in ("turn_cpu", "pause_cpu")
            for which in pauses
        ]

    for g in [*groups, "all"]:
        row = cells(lambda cpu, g=g: sum(cpu.values()) if g == "all" else cpu.get(g, 0.0))
        if any(row):
            print(f"  {'':24s}{g:16s} " + " ".join(f"{c:10.1f}" for c in row))


# The same fixed workload (JSON out and back, strings) after each pause, in opencode's own Bun
# (``BUN_BE_BUN=1`` runs its binary as the bun CLI) and in Python: is the pause effect Bun's?
SYNTHETIC_JS = """
import { readFileSync } from "fs";
const faults = () => +readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[7];
const data = Array.from({length: 2000}, (_, i) => ({id: "msg_" + i, parts: [{type: "text", text: "hello world ".repeat(20) + i}]}));
function work() {
  const f0 = faults(), c0 = process.cpuUsage(), t0 = performance.now();
  let n = 0;
  for (let r = 0; r < 3; r++) n += JSON.parse(JSON.stringify(data)).map(m => m.parts[0].text.toUpperCase()).join("|").length;
  const c = process.cpuUsage(c0);
  return [performance.now() - t0, (c.user + c.system) / 1000, faults() - f0, n];
}
const pauses = process.argv[3].split(","), res = Object.fromEntries(pauses.map(p => [p, []]));
for (let i = 0; i < 5; i++) work();
for (let i = 0; i < +process.argv[2]; i++)
  for (const p of i % 2 ? [...pauses].reverse() : pauses) { await Bun.sleep(+p * 1000); res[p].push(work()); }
console.log(JSON.stringify(res));
"""


def synthetic_python(rounds: int, pauses: list[str]) -> dict[str, list[list[float]]]:
    import json

    data = [
        {"id": f"msg_{i}", "parts": [{"type": "text", "text": "hello world " * 20 + str(i)}]}
        for i in range(2000)
    ]

    def work() -> list[float]:
        f0, c0, t0 = faults(os.getpid()), time.thread_time(), time.perf_counter()
        for _ in range(3):
            back = json.loads(json.dumps(data))
            "|".join(m["parts"][0]["text"].upper() for m in back)
        now = time.perf_counter()
        cpu = time.thread_time() - c0
        return [(now - t0) * 1000, cpu * 1000, faults(os.getpid()) - f0]

    res: dict[str, list[list[float]]] = {p: [] for p in pauses}
    for _ in range(5):
        work()
    for i in range(rounds):
        for p in pauses if i % 2 == 0 else pauses[::-1]:
            time.sleep(float(p))
            res[p].append(work())
    return res


def synthetic(args: argparse.Namespace) -> None:
    """The workload of SYNTHETIC_JS in opencode's Bun (serve's extra variables: ``--bun-env``)
    and in Python, interleaved run by run, each printed per pause (medians)."""
    import json
    import subprocess

    from caw.testing.environments import cli_path

    script = Path(tempfile.mkdtemp(prefix="caw-oc-pause-")) / "synthetic.mjs"
    script.write_text(SYNTHETIC_JS)
    env = {**os.environ, "BUN_BE_BUN": "1", **dict(kv.split("=", 1) for kv in args.bun_env)}
    cli = cli_path("opencode")
    assert cli, "opencode is not installed (tests/backends: npm ci)"
    try:
        argv = [cli, str(script), str(args.pairs), ",".join(args.pauses)]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
        bun = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(script.parent, ignore_errors=True)
    load = os.getloadavg()[0]
    python = synthetic_python(args.pairs, args.pauses)
    print(f"== synthetic: {args.pairs} rounds, load (1 min) {load:.1f} -> {os.getloadavg()[0]:.1f}")
    for name, res in (("bun " + " ".join(args.bun_env), bun), ("python", python)):
        for p, runs in res.items():
            wall, cpu, fl = (statistics.median(r[k] for r in runs) for k in range(3))
            print(f"  {name:24s} after {p:>4s} s: wall {wall:6.2f} ms  CPU {cpu:6.2f} ms  "
                  f"page faults {fl:.0f}")  # fmt: skip


def main(args: argparse.Namespace) -> None:
    from caw.testing import ScriptedModelServer, cli_environment

    if args.synthetic:
        synthetic(args)
        return

    count_connections()
    root = Path(tempfile.mkdtemp(prefix="caw-oc-pause-"))
    timing = Timing()
    server = ScriptedModelServer(observer=timing)
    server.start()
    cwd = os.getcwd()
    try:
        env = cli_environment("opencode", server.base_url, root)
        work = root / "work"
        work.mkdir()
        results = asyncio.run(run_all(args, env, str(work), timing))
        for mode, rows in results.items():
            report(mode, rows)
    finally:
        os.chdir(cwd)
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument(
        "--modes",
        default="floor,caw",
        help="floor, caw, each maybe +K=V (serve's env), comma-separated",
    )
    parser.add_argument(
        "--pauses",
        default="0.05,1",
        help="seconds before a turn, comma-separated, interleaved; 1p: GET /path every 50 ms meanwhile",
    )
    parser.add_argument("--synthetic", action="store_true", help="Bun against Python, no serve")
    parser.add_argument("--bun-env", action="append", default=[], help="K=V for --synthetic's Bun")
    parser.add_argument(
        "--mark", action="store_true", help="mark each turn on stderr (beside serve's, e.g. logGC)"
    )
    args = parser.parse_args()
    args.pauses = args.pauses.split(",")
    if any(p.endswith("p") for p in args.pauses) and "caw" in args.modes:
        parser.error("a pause with pings (1p) is for floor modes only")
    return args


if __name__ == "__main__":
    main(parse_args())
