"""A cold caw-server: spawn -> ``initialize`` answered, against ``import pygls.lsp.server``.

    python bench/daemon_start.py [--reps 12] [--before DIR]

Each repetition runs ``python -c "import pygls.lsp.server"`` (the import every pygls server
pays) and spawns ``python -m caw_server`` with a fresh data dir, writes an ``initialize``
request at once and times the process until its answer has been read (LSP framing over
stdio), then closes its stdin and waits for it to exit. With ``--before DIR`` (a caw tree,
e.g. ``git worktree add DIR <commit>``) each repetition also spawns that tree's daemon (its
``DIR`` and ``DIR/server`` first on ``PYTHONPATH``). The order rotates from one repetition
to the next; medians, the ratios to pygls and the load average are printed.

Standard library only, so that the measuring process imports nothing of what it measures.
"""

from __future__ import annotations

import argparse
import json
import os
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


def pygls_import() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import pygls.lsp.server"], check=True)
    return time.perf_counter() - started


def daemon(tree: Path | None) -> float:
    """Seconds from the spawn to initialize's answer read; the daemon of ``tree`` if given."""
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
            elapsed = time.perf_counter() - started
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
    runs: dict[str, Callable[[], float]] = {
        "pygls import": pygls_import,
        "daemon": lambda: daemon(None),
    }
    if args.before is not None:
        runs["daemon (before)"] = lambda: daemon(args.before.resolve())
    for measure in runs.values():  # one unmeasured run each: the disk cache warm
        measure()
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    loads = [os.getloadavg()[0]]
    for rep in range(args.reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(runs[name]())
        loads.append(os.getloadavg()[0])
    base = statistics.median(times["pygls import"])
    print(f"{args.reps} reps, load average (1 min) {min(loads):.2f}-{max(loads):.2f}")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:>16}: median {1000 * median:6.1f} ms"
            f" (min {1000 * min(values):6.1f}, max {1000 * max(values):6.1f})"
            f"  {median / base:.2f}x pygls"
        )


if __name__ == "__main__":
    main()
