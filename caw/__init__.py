"""caw, the coding-agent wrapper: one resumable Agent/Session API over Claude Code, Codex and opencode."""

import importlib
from typing import TYPE_CHECKING, Any

from .agent import AsyncAgent
from .errors import (
    BackendFailed,
    CawError,
    InvalidHandle,
    ModelError,
    NoHandleYet,
    PersistenceFailed,
    ProviderNotInstalled,
    SessionBusy,
    SessionClosed,
    TurnCancelled,
    TurnTimeout,
    UnknownSession,
    UsageLimitReached,
)
from .events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from .handle import ResumeHandle, decode_handle
from .logs import configure_from_env as _configure_logging
from .models import TextBlock, ThinkingBlock, ToolUseBlock, Trajectory, Turn, Usage
from .providers import PROVIDER_NAMES, UnknownProvider
from .session import AsyncSession
from .sync import Agent, Session

__version__ = "0.2.0"

if TYPE_CHECKING:
    from .viewer import ViewerServer, start_viewer_server

# The viewer pulls in Starlette and uvicorn: imported on first use, not with caw.
_LAZY = {"ViewerServer": ".viewer", "start_viewer_server": ".viewer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'caw' has no attribute {name!r}")


_configure_logging()

__all__ = [
    "PROVIDER_NAMES", "Agent", "AsyncAgent", "AsyncSession", "BackendFailed", "CawError", "Event", "InvalidHandle",
    "ModelError", "NoHandleYet", "PersistenceFailed", "ProviderNotInstalled", "ResumeHandle", "Session", "SessionBusy",
    "SessionClosed", "TextBlock", "TextDelta", "ThinkingBlock", "ThinkingDelta", "ToolCall", "ToolResult",
    "ToolUseBlock", "Trajectory", "Turn", "TurnCancelled", "TurnTimeout", "UnknownProvider", "UnknownSession",
    "Usage", "UsageLimitReached", "UsageUpdate", "ViewerServer", "decode_handle", "start_viewer_server",
]  # fmt: skip
