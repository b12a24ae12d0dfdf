"""The daemon's logging: stderr and ``window/logMessage``, by level, with resume handles scrubbed.

The daemon never logs a handle on purpose; the scrubbing is the second line of
defence for text it does not control (a backend's stderr tail, a traceback).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable

LEVELS = {
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}

HIDDEN = "<hidden>"

# A handle's key field, raw or JSON-escaped inside another string, and a whole handle value.
_KEY_FIELD = re.compile(r'(\\*"resume_key\\*"\s*:\s*\\*")([^"\\]*)')
_HANDLE_FIELD = re.compile(r'(\\*"resumeHandle\\*"\s*:\s*)(\\*"(?:[^"\\]|\\.)*\\*")')


class Secrets:
    """Resume keys this daemon has seen that differ from their session ids (those are not secret)."""

    def __init__(self) -> None:
        self._keys: set[str] = set()

    def add(self, resume_key: str | None, session_id: str | None = None) -> None:
        if resume_key and resume_key != session_id and len(resume_key) >= 8:
            self._keys.add(resume_key)

    def redact(self, text: str) -> str:
        text = _KEY_FIELD.sub(lambda m: m.group(1) + HIDDEN, text)
        text = _HANDLE_FIELD.sub(lambda m: m.group(1) + '"' + HIDDEN + '"', text)
        for key in self._keys:
            if key in text:
                text = text.replace(key, HIDDEN)
        return text


SECRETS = Secrets()


class RedactFilter(logging.Filter):
    """Formats each record once and scrubs it, traceback included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = SECRETS.redact(message), None
        if record.exc_text:
            record.exc_text = SECRETS.redact(record.exc_text)
        return True


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
