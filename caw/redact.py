"""What caw keeps out of logs, stderr tails and error messages, and the one way it hides it.

Secret: resume keys (the backend's conversation id; a session id is not one),
resume handles, and credentials a child process is given (API keys, tokens,
passwords: opencode serve's random password is one). Two kinds of rule:

- exact strings registered as they become known (:func:`hide_key` when an
  adapter or the daemon learns a key, :func:`hide_environment` when a child is
  spawned with credentials), replaced wherever they appear;
- fixed patterns for what is secret by shape: a handle's ``resume_key`` field, a
  ``resumeHandle`` value, opencode's ``ses_...`` session ids, ``sk-...`` API keys.

:func:`redact` applies both. It runs on every :class:`~caw.errors.BackendFailed`
(message and stderr tail), on a child's stderr tail, and in :class:`RedactFilter`,
which caw's ``CAW_LOG`` handler, the daemon's handlers and the httpx logger use.
The registry is process-wide: a key learnt by one adapter is hidden in any text.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping

RESUME_KEY = "<resume key>"
HANDLE = "<resume handle>"
CREDENTIAL = "<credential>"
MIN_LENGTH = 8  # shorter strings are not registered: hiding them would garble ordinary text

# Environment variables whose values are credentials (ANTHROPIC_API_KEY, OPENCODE_SERVER_PASSWORD, ...).
_SECRET_ENV = re.compile(r"(API_KEY|_TOKEN|PASSWORD|SECRET|_AUTH)$", re.I)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A handle's key field, raw or JSON-escaped inside another string.
    (re.compile(r'(\\*"resume_key\\*"\s*:\s*\\*")[^"\\]*'), rf"\g<1>{RESUME_KEY}"),
    # A whole handle value (the daemon's wire name for it).
    (
        re.compile(r'(\\*"resumeHandle\\*"\s*:\s*)\\*"(?:[^"\\]|\\.)*\\*"'),
        rf'\g<1>"{HANDLE}"',
    ),
    # opencode session ids are resume keys (httpx logs them in every request URL).
    (re.compile(r"\bses_[A-Za-z0-9]{8,}"), RESUME_KEY),
    # API keys of the OpenAI / Anthropic shape.
    (re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"), CREDENTIAL),
)


class Secrets:
    """The registry of exact secret strings, each with the placeholder that replaces it."""

    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}
        self._lock = threading.Lock()  # the daemon's log filter may run on other threads
        self._pattern: re.Pattern[str] | None = None

    def add(self, resume_key: str | None, session_id: str | None = None) -> None:
        """A resume key; one equal to its caw session id is no secret (claude's are)."""
        if resume_key != session_id:
            self._add(resume_key, RESUME_KEY)

    def add_credential(self, value: str | None) -> None:
        """An API key, token or password."""
        self._add(value, CREDENTIAL)

    def _add(self, secret: str | None, placeholder: str) -> None:
        if not secret or len(secret) < MIN_LENGTH or secret in self._secrets:
            return
        with self._lock:
            self._secrets[secret] = placeholder
            self._pattern = None

    def redact(self, text: str) -> str:
        if not text:
            return text
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        if not self._secrets:
            return text
        return self._compiled().sub(lambda m: self._secrets.get(m.group(0), RESUME_KEY), text)

    def _compiled(self) -> re.Pattern[str]:
        pattern = self._pattern
        if pattern is None:
            with self._lock:
                # Longest first, so a secret containing another is replaced whole.
                ordered = sorted(self._secrets, key=len, reverse=True)
                pattern = self._pattern = re.compile("|".join(map(re.escape, ordered)))
        return pattern

    def __len__(self) -> int:
        return len(self._secrets)


SECRETS = Secrets()


def redact(text: str) -> str:
    """``text`` with every known secret and every secret-shaped string replaced by a placeholder."""
    return SECRETS.redact(text)


def hide_key(resume_key: str | None, session_id: str | None = None) -> None:
    """Register a resume key; one equal to its caw session id is no secret (claude's are)."""
    SECRETS.add(resume_key, session_id)


def hide_environment(env: Mapping[str, str]) -> None:
    """Register the credentials in a child's environment (by variable name)."""
    for name, value in env.items():
        if _SECRET_ENV.search(name):
            SECRETS.add_credential(value)


class RedactFilter(logging.Filter):
    """Formats each record once and redacts it, traceback included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = redact(message), None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
