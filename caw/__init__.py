"""caw, the coding-agent wrapper: one resumable Agent/Session API over Claude Code, Codex and opencode."""

import importlib
from typing import TYPE_CHECKING, Any

from .logs import configure_from_env as _configure_logging

__version__ = "0.2.0"

if TYPE_CHECKING:
    from .agent import AsyncAgent
    from .compat.front import Agent, InteractiveResult, Session
    from .compat.stats import FastStats
    from .compat.storage import JsonlWriter, SessionStore
    from .display import AgentLogger, Display, DisplayMode, get_global_display, set_global_display
    from .errors import (
        BackendFailed,
        CawError,
        InvalidAttachment,
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
    from .health import AuthSignal, ProviderHealth, check_providers
    from .models import (
        ContentBlock,
        TextBlock,
        ThinkingBlock,
        ToolUse,
        ToolUseBlock,
        Trajectory,
        Turn,
        Usage,
        UsageStats,
    )
    from .provider_order import (
        get_provider_models,
        get_provider_order,
        installed_providers,
        register_provider,
        set_provider_order,
    )
    from .providers import PROVIDER_NAMES, UnknownProvider
    from .session import AsyncSession
    from .tiers import ModelTier
    from .tools import AgentSpec, MCPServer, ToolGroup, ToolKit, tool
    from .viewer import ViewerServer, start_viewer_server

# Every public name is imported on first use (PEP 562), not with caw: importing one of caw's
# modules runs this file first, and the agent stack (agent, session, providers, tools) costs
# tens of milliseconds that ``import caw.models`` alone does not need, e.g. caw-server's
# start up to its first answer (issue 20). ``from caw import Agent`` works as before.
_ERRORS = (
    "BackendFailed", "CawError", "InvalidAttachment", "InvalidHandle", "ModelError",
    "NoHandleYet", "PersistenceFailed", "ProviderNotInstalled", "SessionBusy", "SessionClosed",
    "TurnCancelled", "TurnTimeout", "UnknownSession", "UsageLimitReached",
)  # fmt: skip
_MODELS = (
    "ContentBlock", "TextBlock", "ThinkingBlock", "ToolUse", "ToolUseBlock", "Trajectory", "Turn",
    "Usage", "UsageStats",
)  # fmt: skip
_EVENTS = ("Event", "TextDelta", "ThinkingDelta", "ToolCall", "ToolResult", "UsageUpdate")
_LAZY = {
    "AsyncAgent": ".agent", "AsyncSession": ".session",
    "Agent": ".compat.front", "InteractiveResult": ".compat.front", "Session": ".compat.front",
    **dict.fromkeys(_ERRORS, ".errors"),
    **dict.fromkeys(_EVENTS, ".events"),
    **dict.fromkeys(_MODELS, ".models"),
    "ResumeHandle": ".handle", "decode_handle": ".handle",
    "PROVIDER_NAMES": ".providers", "UnknownProvider": ".providers",
    "AgentSpec": ".tools", "MCPServer": ".tools", "ToolGroup": ".tools", "ToolKit": ".tools",
    "tool": ".tools",
    # The viewer pulls in Starlette and uvicorn; the rest are caw 0.1.9's helpers
    # (docs/migrating.md), which most programs never touch.
    "ViewerServer": ".viewer", "start_viewer_server": ".viewer",
    "ModelTier": ".tiers",
    "register_provider": ".provider_order", "installed_providers": ".provider_order",
    "get_provider_order": ".provider_order", "set_provider_order": ".provider_order",
    "get_provider_models": ".provider_order",
    "check_providers": ".health", "ProviderHealth": ".health", "AuthSignal": ".health",
    "Display": ".display", "DisplayMode": ".display", "AgentLogger": ".display",
    "get_global_display": ".display", "set_global_display": ".display",
    "Provider": ".providers.base", "ClaudeCodeProvider": ".providers.claude_code",
    "CodexProvider": ".providers.codex", "FastStats": ".compat.stats",
    "SessionStore": ".compat.storage", "JsonlWriter": ".compat.storage",
}  # fmt: skip
# caw 0.1.9's names for caw's own classes.
_RENAMED = {
    "OpencodeProvider": (".providers.opencode", "OpenCodeProvider"),
    "ProviderSession": (".providers.base", "Conversation"),
    "auth_setup": (".auth", "setup"),
    "auth_get_status": (".auth", "get_status"),
    "auth_get_docker_flags": (".auth", "get_docker_flags"),
}
# Names the tools work provides in caw.tools (looked up there when it has them).
_TOOLS = (
    "AgentSpec", "ToolGroup", "MCPTool", "MCPServerHandle", "mcp_tool", "register_tool",
    "create_mcp_http_server_bundle", "create_stateless_tool_server",
    "create_subagent_tool_server", "get_state_from_context",
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY or name in _RENAMED:
        module, attr = _RENAMED[name] if name in _RENAMED else (_LAZY[name], name)
        value = getattr(importlib.import_module(module, __name__), attr)
        globals()[name] = value  # found without this function from now on
        return value
    if name in _TOOLS:
        try:
            found = getattr(importlib.import_module(".tools", __name__), name, None)
        except ImportError:
            found = None
        if found is not None:
            return found
    raise AttributeError(f"module 'caw' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


_configure_logging()

__all__ = [
    "PROVIDER_NAMES",
    "Agent",
    "AgentLogger",
    "AgentSpec",
    "AsyncAgent",
    "AsyncSession",
    "AuthSignal",
    "BackendFailed",
    "CawError",
    "ContentBlock",
    "Display",
    "DisplayMode",
    "Event",
    "FastStats",
    "InteractiveResult",
    "InvalidAttachment",
    "InvalidHandle",
    "JsonlWriter",
    "MCPServer",
    "ModelError",
    "ModelTier",
    "NoHandleYet",
    "PersistenceFailed",
    "ProviderHealth",
    "ProviderNotInstalled",
    "ResumeHandle",
    "Session",
    "SessionBusy",
    "SessionClosed",
    "SessionStore",
    "TextBlock",
    "TextDelta",
    "ThinkingBlock",
    "ThinkingDelta",
    "ToolCall",
    "ToolGroup",
    "ToolKit",
    "ToolResult",
    "ToolUse",
    "ToolUseBlock",
    "Trajectory",
    "Turn",
    "TurnCancelled",
    "TurnTimeout",
    "UnknownProvider",
    "UnknownSession",
    "Usage",
    "UsageLimitReached",
    "UsageStats",
    "UsageUpdate",
    "ViewerServer",
    "auth_get_docker_flags",
    "auth_get_status",
    "auth_setup",
    "check_providers",
    "decode_handle",
    "get_global_display",
    "get_provider_models",
    "get_provider_order",
    "installed_providers",
    "register_provider",
    "set_global_display",
    "set_provider_order",
    "start_viewer_server",
    "tool",
]  # fmt: skip
