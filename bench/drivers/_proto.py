"""The JSON-lines protocol between bench/run.py and one measurement driver (stdlib only).

run.py writes one request per line on the driver's stdin, ``{"op": NAME, ...params}``;
the driver answers one line ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``.
Timings are taken inside the driver, around the operation itself, with
``time.monotonic()`` (CLOCK_MONOTONIC, comparable across processes on one machine,
so they line up with the model server's own timestamps).

The driver's real stdout is kept for answers only; anything else printed to
stdout (a library's console output) goes to stderr, which run.py logs to a file.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import sys
import traceback
from typing import Any

_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """Popen ``preexec_fn``: the CLI gets SIGTERM when this driver dies, so no backend outlives a run."""
    if _prctl is not None:
        _prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


def _exit_on_sigterm() -> None:
    # run.py's SIGTERM (or our parent's death) ends the driver through exit handlers, which stop its children.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def _protocol_out():
    _exit_on_sigterm()
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def _answer(out, op: str, result: Any = None, exc: BaseException | None = None) -> None:
    if exc is not None:
        traceback.print_exc()
        reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000]}
    else:
        reply = {"ok": True, **(result or {})}
    out.write(json.dumps(reply) + "\n")
    out.flush()


def serve(driver: Any) -> None:
    """Answer requests with ``driver.op_<name>(**params)`` until ``close`` or end of input."""
    out = _protocol_out()
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        op = msg.pop("op")
        try:
            _answer(out, op, getattr(driver, "op_" + op)(**msg))
        except Exception as exc:
            _answer(out, op, exc=exc)
        if op == "close":
            return
    if hasattr(driver, "op_close"):
        driver.op_close()


def serve_async(driver: Any) -> None:
    """Like :func:`serve` for a driver whose ``op_*`` methods are coroutines."""

    async def main() -> None:
        out = _protocol_out()
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            if not line.strip():
                continue
            msg = json.loads(line)
            op = msg.pop("op")
            try:
                _answer(out, op, await getattr(driver, "op_" + op)(**msg))
            except Exception as exc:
                _answer(out, op, exc=exc)
            if op == "close":
                return
        if hasattr(driver, "op_close"):
            await driver.op_close()

    asyncio.run(main())


class Deltas:
    """Arrival times of text deltas: ``[[monotonic, cumulative characters], ...]``."""

    def __init__(self) -> None:
        self.points: list[list[float]] = []
        self.chars = 0

    def add(self, text: str, when: float) -> None:
        if text:
            self.chars += len(text)
            self.points.append([when, self.chars])
