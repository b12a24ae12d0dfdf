"""The ``caw acp`` process: ACP on stdio until the client goes away or a signal arrives.

On the way out every session is ended and the shared backend servers stopped; if the
process is killed outright, the backends die with it (``ChildProcess`` sets
``PR_SET_PDEATHSIG``) and every completed turn is already on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass

from acp.agent.connection import AgentSideConnection

from .. import __version__
from ..providers import close_shared_providers
from ..redact import RedactFilter
from .agent import CawAcpAgent, Settings
from .transport import open_stdio, protect_stdout

log = logging.getLogger("caw.acp")

LOG_LEVELS = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}


@dataclass
class ServeOptions(Settings):
    log_level: str = "warning"


def _log_to_stderr(level: str) -> None:
    """Every log line (caw's and the SDK's) to stderr, redacted; stdout is the protocol's."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("caw acp %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LOG_LEVELS.get(level, logging.WARNING))


async def _serve(options: ServeOptions, protocol_fd: int) -> None:
    agent = CawAcpAgent(options)
    transport = await open_stdio(protocol_fd)
    # session/resume and session/close are stable in the spec; the SDK routes them only
    # with its "unstable" switch.
    conn = AgentSideConnection(agent, transport, listening=False, use_unstable_protocol=True)
    loop = asyncio.get_running_loop()
    listening = asyncio.ensure_future(conn.listen())
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    stopping = asyncio.ensure_future(stop.wait())
    log.info("caw acp %s ready (pid %d, provider %s, data dir %s)", __version__, os.getpid(),
             options.provider, options.data_dir or "off")  # fmt: skip
    await asyncio.wait([listening, stopping], return_when=asyncio.FIRST_COMPLETED)
    for task in (listening, stopping):
        task.cancel()
    await agent.end_all()
    try:
        await close_shared_providers()
    except Exception:
        log.exception("closing the shared backend servers failed")
    with contextlib.suppress(Exception):
        await conn.close()
    log.info("all backends ended")


def serve(options: ServeOptions) -> int:
    _log_to_stderr(options.log_level)
    protocol_fd = protect_stdout()
    asyncio.run(_serve(options, protocol_fd))
    return 0
