"""caw's exceptions. Each has a stable ``kind`` the daemon maps to an error code.

They also subclass the builtin a Python user would expect (ValueError for bad
input, RuntimeError for a failed backend) so ``except ValueError`` keeps working.
"""

from __future__ import annotations

from typing import Any

from .redact import redact


class CawError(Exception):
    kind = "internal"


class InvalidHandle(CawError, ValueError):
    """A resume handle or id that is malformed, of another provider, or unsafe."""

    kind = "invalidHandle"


class InvalidAttachment(CawError, ValueError):
    """An attachment caw cannot put into the prompt (not a file, unreadable, over 1 MiB,
    binary, a bad line range); ``index`` is its place among the attachments (0-based)."""

    kind = "invalidParams"

    def __init__(self, index: int, name: str, reason: str):
        super().__init__(f"attachment {name!r}: {reason}")
        self.index, self.name, self.reason = index, name, reason


class NoHandleYet(CawError, RuntimeError):
    kind = "noHandleYet"


class UnknownSession(CawError, LookupError):
    kind = "unknownSession"


class ProviderNotInstalled(CawError, FileNotFoundError):
    """The provider's CLI is not on this machine; the message says how to install it."""

    kind = "providerNotInstalled"


class BackendFailed(CawError, RuntimeError):
    """The backend CLI died or reported a failure; carries its exit code and stderr tail.

    Both texts quote the backend, which may name a resume key or a credential: they are
    redacted here (:mod:`caw.redact`), once for every adapter.
    """

    kind = "backendFailed"

    def __init__(self, message: str, *, exit_code: int | None = None, stderr_tail: str = ""):
        super().__init__(redact(message))
        self.exit_code = exit_code
        self.stderr_tail = redact(stderr_tail)


class ModelError(BackendFailed):
    """The model API answered with an error (rate limit, overload, server error)."""

    kind = "modelError"


class UsageLimitReached(ModelError):
    """The account's usage limit was hit. ``wait_minutes``: minutes until it resets, read from
    the CLI's message (caw.usage_limits), else the default wait."""

    kind = "usageLimit"

    @property
    def wait_minutes(self) -> int:
        from .usage_limits import DEFAULT_WAIT_MINUTES, wait_minutes_from_message

        found = wait_minutes_from_message(f"{self} {self.stderr_tail}")
        return found if found is not None else DEFAULT_WAIT_MINUTES


class TurnTimeout(BackendFailed):
    kind = "timeout"


class TurnCancelled(CawError):
    """The turn was cancelled; ``turn`` holds what had arrived before."""

    kind = "cancelled"

    def __init__(self, message: str = "the turn was cancelled", turn: Any = None):
        super().__init__(message)
        self.turn = turn


class SessionBusy(CawError, RuntimeError):
    kind = "sessionBusy"


class SessionClosed(CawError, RuntimeError):
    kind = "sessionClosed"


class FilesChangedSince(CawError, RuntimeError):
    """A revert was refused: ``files`` (relative to the session's folder) no longer hold what
    the turn left there. Nothing was written."""

    kind = "filesChangedSince"

    def __init__(self, message: str, files: list[str]):
        super().__init__(message)
        self.files = files


class PersistenceFailed(CawError, OSError):
    """Writing to the data dir failed; the turn itself completed."""

    kind = "persistenceFailed"


class UnsafeDataDir(PersistenceFailed):
    """The data dir (or a folder or file in it) could be planted by someone else: another
    user's, writable by group or others, a symbolic link, or a record that does not match its
    folder. The message names the path and the fix."""
