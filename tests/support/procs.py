"""The process table, read from /proc: which processes descend from which."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def _stat(pid: int) -> tuple[int, str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        cmdline = (
            Path(f"/proc/{pid}/cmdline")
            .read_bytes()
            .replace(b"\0", b" ")
            .decode("utf-8", "replace")
        )
    except OSError:
        return None
    state = text[text.rindex(")") + 2 :].split()
    if state[0] == "Z":  # a zombie has ended; only its parent has not reaped it yet
        return None
    return int(state[1]), cmdline


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every live process."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _stat(int(entry))
            if info is not None:
                table[int(entry)] = info
    return table


def descendants(root: int) -> dict[int, str]:
    table = processes()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, cmd) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = cmd
                frontier.append(pid)
    return found


def alive(pid: int) -> bool:
    return _stat(pid) is not None


def children(root: int) -> dict[int, str]:
    return {pid: cmd for pid, (ppid, cmd) in processes().items() if ppid == root}


def matching(needle: str, root: int | None = None) -> list[int]:
    """Live pids whose command line contains ``needle`` (direct children of ``root`` if given)."""
    if root is not None:
        return [pid for pid, cmd in children(root).items() if needle in cmd]
    return [pid for pid, (_, cmd) in processes().items() if needle in cmd]


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def kill(pids, sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
