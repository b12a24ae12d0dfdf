"""One writer per session, across processes (issue 21, finding 3).

Real processes hold the lock here; a dead holder (kill -9) frees it at once, and a backend
the holder started does not inherit it. The daemons and a real CLI: tests/server/test_session_lock.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from caw import AsyncAgent, SessionBusy, Trajectory
from caw.handle import ResumeHandle
from caw.store import Store
from tests.support.procs import alive

SID = "11111111-2222-3333-4444-555555555555"

HOLDER = """
import subprocess, sys
from caw.store import Store
sdir = Store(sys.argv[1]).create(sys.argv[2])
sdir.lock()
child = subprocess.Popen(["sleep", "600"])  # like a backend CLI the holder started
print(child.pid, flush=True)
sys.stdin.read()  # holds until killed or its stdin closes
"""


class Holder:
    """Another process holding the session's lock; ``child`` is a process it started."""

    def __init__(self, data: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(data), SID],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.child = int(self.proc.stdout.readline())  # printed once the lock is held

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    sdir = Store(tmp_path / "data").create(SID)
    sdir.save_trajectory(Trajectory(agent="claude_code", session_id=SID))
    sdir.save_handle(ResumeHandle(provider="claude_code", session_id=SID, resume_key=SID))
    return tmp_path / "data"


@pytest.fixture
def holder(data: Path) -> Iterator[Holder]:
    holding = Holder(data)
    yield holding
    if holding.proc.poll() is None:
        holding.kill()
    if alive(holding.child):
        os.kill(holding.child, signal.SIGKILL)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


async def test_a_second_process_gets_session_busy_and_writes_nothing(data, holder):
    folder = data / "sessions" / SID
    before = snapshot(folder)
    with pytest.raises(
        SessionBusy,
        match=rf"session {SID} is open in another caw process \(pid {holder.proc.pid}\)",
    ):
        await AsyncAgent("claude_code", data_dir=data).resume_session(SID)
    with pytest.raises(SessionBusy):
        Store(data).session(SID).lock()
    assert snapshot(folder) == before, "the refused resume wrote into the session"


def test_a_killed_holder_frees_the_lock_though_its_backend_lives_on(data, holder):
    sdir = Store(data).session(SID)
    with pytest.raises(SessionBusy):
        sdir.lock()
    holder.kill()
    assert alive(holder.child), "the holder's child outlives it (as a backend CLI may)"
    sdir.lock()  # taken over at once: the kernel dropped the dead holder's lock
    sdir.unlock()


def test_unlock_lets_another_process_in(data):
    sdir = Store(data).session(SID)
    sdir.lock()
    sdir.lock()  # idempotent in the holding process
    probe = [
        sys.executable,
        "-c",
        f"from caw.store import Store; Store({str(data)!r}).session({SID!r}).lock()",
    ]
    refused = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "SessionBusy" in refused.stderr
    sdir.unlock()
    assert subprocess.run(probe, capture_output=True, timeout=60).returncode == 0
