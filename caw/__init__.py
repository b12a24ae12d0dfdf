"""caw, the coding-agent wrapper: one resumable Agent/Session API over Claude Code, Codex and opencode."""

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

_configure_logging()

__all__ = [
    "PROVIDER_NAMES", "Agent", "AsyncAgent", "AsyncSession", "BackendFailed", "CawError", "Event", "InvalidHandle",
    "ModelError", "NoHandleYet", "PersistenceFailed", "ProviderNotInstalled", "ResumeHandle", "Session", "SessionBusy",
    "SessionClosed", "TextBlock", "TextDelta", "ThinkingBlock", "ThinkingDelta", "ToolCall", "ToolResult",
    "ToolUseBlock", "Trajectory", "Turn", "TurnCancelled", "TurnTimeout", "UnknownProvider", "UnknownSession",
    "Usage", "UsageLimitReached", "UsageUpdate", "decode_handle",
]  # fmt: skip
