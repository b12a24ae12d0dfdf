"""A cold caw-server: spawn -> ``initialize`` answered, against ``import pygls.lsp.server``.

    python bench/daemon_start.py [--reps 12] [--before DIR]

Each repetition runs ``python -c "import pygls.lsp.server"`` (the import every pygls server
pays) and spawns ``python -m caw_server`` with a fresh data dir, writes an ``initialize``
request at once and times the process until its answer has been read (LSP framing over
stdio), then closes its stdin and waits for it to exit. Each is timed in wall time and in the
CPU time the process used (steadier on a loaded machine; 10 ms ticks on Linux). With ``--before DIR`` (a caw tree,
e.g. ``git worktree add DIR <commit>``) each repetition also spawns that tree's daemon (its
``DIR`` and ``DIR/server`` first on ``PYTHONPATH``). The order rotates from one repetition
to the next; medians, the ratios to pygls and the load average are printed.

Standard library only, so that the measuring process imports nothing of what it measures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}


def _frame(message: dict[str, object]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def _read_message(stream: IO[bytes]) -> dict[str, Any]:
    length = None
    while True:
        line = stream.readline()
        if not line:
            raise RuntimeError("the daemon closed its output before answering initialize")
        line = line.strip()
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    if length is None:
        raise RuntimeError("a frame without Content-Length")
    message: dict[str, Any] = json.loads(stream.read(length))
    return message


Sample = tuple[float, float]  # wall seconds, CPU seconds of the measured process


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_of(pid: int) -> float:
    """A running process's user + system CPU seconds (Linux: /proc; NaN elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pygls_import() -> Sample:
    cpu, started = _children_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-c", "import pygls.lsp.server"], check=True)
    return time.perf_counter() - started, _children_cpu() - cpu


def daemon(tree: Path | None) -> Sample:
    """From the spawn to initialize's answer read; the daemon of ``tree`` if given."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree), str(tree / "server")])
    with tempfile.TemporaryDirectory(prefix="caw-daemon-start-") as data:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "caw_server", "--data-dir", data],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(_frame(INITIALIZE))
            proc.stdin.flush()
            while "id" not in (message := _read_message(proc.stdout)):
                pass  # a window/logMessage sent during initialize
            elapsed = time.perf_counter() - started, _cpu_of(proc.pid)
            if "result" not in message:
                raise RuntimeError(f"initialize failed: {message}")
        finally:
            proc.stdin.close()  # end of input: the daemon exits
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=12)
    parser.add_argument("--before", type=Path, help="an older caw tree to compare with")
    args = parser.parse_args()
    runs: dict[str, Callable[[], Sample]] = {
        "pygls import": pygls_import,
        "daemon": lambda: daemon(None),
    }
    if args.before is not None:
        runs["daemon (before)"] = lambda: daemon(args.before.resolve())
    for measure in runs.values():  # one unmeasured run each: the disk cache warm
        measure()
    times: dict[str, list[Sample]] = {name: [] for name in runs}
    names = list(runs)
    loads = [os.getloadavg()[0]]
    for rep in range(args.reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(runs[name]())
        loads.append(os.getloadavg()[0])
    base = [statistics.median(s[i] for s in times["pygls import"]) for i in (0, 1)]
    print(f"{args.reps} reps, load average (1 min) {min(loads):.2f}-{max(loads):.2f}")
    for name, samples in times.items():
        wall, cpu = ([s[i] for s in samples] for i in (0, 1))
        print(
            f"{name:>16}: wall median {1000 * statistics.median(wall):6.1f} ms"
            f" (min {1000 * min(wall):6.1f}) {statistics.median(wall) / base[0]:.2f}x pygls;"
            f" CPU median {1000 * statistics.median(cpu):6.1f} ms"
            f" {statistics.median(cpu) / base[1]:.2f}x"
        )


if __name__ == "__main__":
    main()
