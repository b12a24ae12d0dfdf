"""The daemon's shutdown is bounded: a task that swallows its cancellation does not keep the
process alive (an orphan once its client is gone). Seen once in a daemon whose client had
quit: asyncio.run waited forever in its cancel-all-tasks step."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import asyncio
    from caw_server.runner import run

    async def stubborn():
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass  # swallowed: asyncio.run would wait for this task forever

    async def main():
        asyncio.ensure_future(stubborn())
        await asyncio.sleep(0)
        return 7

    run(main(), grace=0.2)
    """
)


def test_a_task_that_ignores_its_cancel_does_not_keep_the_daemon_alive():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 7, done.stderr
    assert "did not end within 0.2 s of shutdown" in done.stderr


def test_a_clean_shutdown_returns_the_code():
    script = SCRIPT.replace("asyncio.ensure_future(stubborn())", "pass")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr  # run() returned 7; not exited
