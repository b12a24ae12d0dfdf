"""The daemon's logging: stderr and ``window/logMessage``, by level, with resume handles scrubbed.

The daemon never logs a handle on purpose; the scrubbing (:mod:`caw.redact`) is the
second line of defence for text it does not control (a backend's stderr tail, a traceback).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from caw.redact import SECRETS, RedactFilter

LEVELS = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}

# One registry for the library and the daemon: the daemon adds the keys it sees (app.py).
__all__ = ["CLIENT_HANDLER", "LEVELS", "SECRETS", "RedactFilter", "set_level", "setup"]


class ClientLogHandler(logging.Handler):
    """Forwards records to the client as ``window/logMessage`` once a sender is attached."""

    def __init__(self) -> None:
        super().__init__()
        self.sender: Callable[[int, str], None] | None = None
        self._sending = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.sender is None or self._sending:  # no re-entry: sending may itself log
            return
        self._sending = True
        try:
            self.sender(record.levelno, self.format(record))
        except Exception:
            pass
        finally:
            self._sending = False


CLIENT_HANDLER = ClientLogHandler()


def setup(level: str) -> None:
    """Route every logger (caw, caw_server, pygls) through the scrubbed handlers at ``level``."""
    caw_logger = logging.getLogger("caw")
    for handler in list(caw_logger.handlers):  # CAW_LOG's own handler would bypass the scrubbing
        if getattr(handler, "_caw", False):
            caw_logger.removeHandler(handler)
    caw_logger.setLevel(logging.NOTSET)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter("caw-server %(levelname)s %(name)s: %(message)s"))
    CLIENT_HANDLER.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    for handler in (stderr, CLIENT_HANDLER):
        handler.addFilter(RedactFilter())
        root.addHandler(handler)
    set_level(level)


def set_level(level: str) -> None:
    logging.getLogger().setLevel(LEVELS[level])
    # pygls logs whole message bodies at info/debug, httpx every URL (opencode's carry its resume keys),
    # watchfiles every raw change: their warnings are enough.
    for noisy in ("pygls", "httpx", "httpcore", "watchfiles", "asyncio"):
        logging.getLogger(noisy).setLevel(max(LEVELS[level], logging.WARNING))
