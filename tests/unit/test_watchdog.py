"""caw's watchdog (caw.providers.watchdog): after its owner is SIGKILLed it ends what the
owner's backends detached (setsid), then exits; a stopped backend's marker is forgotten."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from caw.providers.watchdog import WATCHDOG_ENV

OWNER = """
import asyncio, sys
from caw.providers.process import ChildProcess

async def main():
    tag = sys.argv[1]
    script = f"setsid sleep {tag} </dev/null >/dev/null 2>&1 & exec sleep {int(tag) + 1}"
    kept = await ChildProcess.spawn(["sh", "-c", script], name="kept", stdin=False)
    stopped = await ChildProcess.spawn(["sleep", str(int(tag) + 2)], name="stopped", stdin=False)
    await stopped.stop()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _pids(predicate) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if stat[stat.rindex(")") + 2] != "Z" and predicate(cmdline, environ):
            found.append(int(entry))
    return found


def _wait(predicate, what: str, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)  # polling /proc: there is no event for a process ending
    return value


def test_the_watchdog_sweeps_after_its_owner_is_sigkilled(tmp_path):
    tag = str(random.randint(100_000, 900_000))
    sleeps = {f"sleep\0{tag}\0".encode(), f"sleep\0{int(tag) + 1}\0".encode()}
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, tag], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert owner.stdout is not None and owner.stdout.readline() == "ready\n"
        _wait(lambda: len(_pids(lambda cmd, _: cmd in sleeps)) == 2, "both sleeps")
        mine = f"{WATCHDOG_ENV}={owner.pid}\0".encode()
        watchdogs = _wait(lambda: _pids(lambda _, env: mine in env), "the watchdog")
        assert len(watchdogs) == 1, "one watchdog per owner, however many backends"
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        _wait(lambda: not _pids(lambda cmd, _: cmd in sleeps), "the sleeps to end")
        _wait(lambda: not _pids(lambda _, env: mine in env), "the watchdog to exit")
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        for pid in _pids(lambda cmd, _: cmd in sleeps):  # a failed run leaves nothing behind
            os.kill(pid, signal.SIGKILL)
