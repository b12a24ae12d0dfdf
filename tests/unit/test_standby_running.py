"""caw.providers.standby.running: a standby's process counts as ended from the moment it is
killed, not only once it is a zombie (issue 20: a dead standby is never handed out)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from caw.providers import standby
from caw.providers.standby import running

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# Touched memory makes the system's teardown of a killed process take milliseconds (its
# pages are freed before it becomes a zombie), as it does for a real claude process.
HOLDS_MEMORY = "import sys; block = b'x' * (64 << 20); print('ready', flush=True); sys.stdin.read()"


@pytest.fixture
def child() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDS_MEMORY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    yield proc
    proc.kill()
    proc.wait()


def test_a_running_process_runs(child):
    assert running(child.pid)


def test_a_process_killed_this_instant_has_ended(child):
    os.kill(child.pid, signal.SIGKILL)
    # Read at once: the system is still tearing it down (not yet a zombie).
    assert not running(child.pid)


def test_a_zombie_and_a_reaped_process_have_ended(child):
    child.kill()
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
    assert not running(child.pid)
    child.wait()
    assert not running(child.pid)
    assert not running(None)


def test_a_process_reaped_while_its_state_is_read_has_ended(child, monkeypatch):
    # asyncio may reap a standby at any moment (Python 3.11 waits for children from a
    # thread): a /proc file opened before that then reads as "no such process".
    @contextlib.contextmanager
    def open_then_reap(*args, **kwargs):
        with open(*args, **kwargs) as opened:
            child.kill()
            child.wait()
            yield opened

    monkeypatch.setattr(standby, "open", open_then_reap, raising=False)
    assert not running(child.pid)
