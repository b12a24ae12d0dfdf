"""The daemon's event loop from start to exit: ``asyncio.run`` with a bounded shutdown.

Once ``serve`` has returned, every backend has ended; tasks still running are cancelled as
``asyncio.run`` does, but get ``SHUTDOWN_GRACE`` seconds to finish, not forever. A task that
swallows its cancellation would otherwise keep the daemon (an orphan once its client is
gone) alive for good; it is named in the log and the process exits anyway.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("caw_server")

SHUTDOWN_GRACE = 5.0  # seconds for leftover tasks to end once the daemon has shut down


def run(main: Coroutine[Any, Any, int], grace: float = SHUTDOWN_GRACE) -> int:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stuck: set[asyncio.Task[Any]] = set()
    try:
        code = loop.run_until_complete(main)
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            _, stuck = loop.run_until_complete(asyncio.wait(tasks, timeout=grace))
        for task in stuck:
            log.warning("a task did not end within %g s of shutdown: %r", grace, task)
        if not stuck:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        if not stuck:
            loop.close()
    if stuck:  # its threads or tasks could still hold the interpreter's exit
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
