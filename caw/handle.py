"""The v1 resume handle: a self-contained JSON string that grants resume access.

``{"version": 1, "provider": "...", "session_id": "...", "resume_key": "..."}``

Ids are checked here, before anything uses them to build a path or a command
line; each provider also checks its own key shape (see ``Provider.check_resume_key``).
The handle is a credential: nothing in caw logs it, and ``repr`` hides the key.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from .errors import InvalidHandle

HANDLE_VERSION = 1

# Ids that are safe as one path component and as one argv item: no separators,
# no dots, no leading dash (which a CLI would take for a flag).
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def check_id(value: object, what: str) -> str:
    """Return ``value`` if it is a safe id, else raise InvalidHandle naming ``what``."""
    if not isinstance(value, str) or not value:
        raise InvalidHandle(f"{what} must be a non-empty string")
    if not _SAFE_ID.fullmatch(value):
        raise InvalidHandle(
            f"{what} has an invalid shape (letters, digits, '-' and '_' only, at most 128 characters)"
        )
    return value


class ResumeHandle(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int = HANDLE_VERSION
    provider: str
    session_id: str
    resume_key: str

    def encode(self) -> str:
        return json.dumps(
            {
                "version": self.version,
                "provider": self.provider,
                "session_id": self.session_id,
                "resume_key": self.resume_key,
            }
        )

    def __repr__(self) -> str:  # never show the key in logs or tracebacks
        return f"ResumeHandle(provider={self.provider!r}, session_id={self.session_id!r}, resume_key=<hidden>)"

    __str__ = __repr__


def looks_like_handle(text: str) -> bool:
    return text.lstrip().startswith("{")


def decode_handle(text: object) -> ResumeHandle:
    """Parse and validate a handle string; every failure says what was wrong."""
    if not isinstance(text, str):
        raise InvalidHandle("the resume handle must be a JSON string")
    try:
        data: Any = json.loads(text)
    except ValueError:
        raise InvalidHandle("the resume handle is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidHandle("the resume handle must be a JSON object")
    if "version" not in data:
        raise InvalidHandle("the resume handle has no 'version'")
    if (
        type(data["version"]) is not int or data["version"] != HANDLE_VERSION
    ):  # true == 1 in Python, not in a handle
        raise InvalidHandle(
            f"unsupported resume handle version {data['version']!r} (this caw reads version {HANDLE_VERSION})"
        )
    for key in ("provider", "session_id", "resume_key"):
        if key not in data:
            raise InvalidHandle(f"the resume handle has no {key!r}")
    if not isinstance(data["provider"], str):
        raise InvalidHandle("the resume handle's 'provider' must be a string")
    return ResumeHandle(
        provider=data["provider"],
        session_id=check_id(data["session_id"], "the resume handle's 'session_id'"),
        resume_key=check_id(data["resume_key"], "the resume handle's 'resume_key'"),
    )
