"""Tool groups: which of a CLI's built-in tools a session may use, and how each CLI says it.

``Agent(tools=ToolGroup.READER)`` may read but neither write a file nor run a command, on
every provider. Each CLI gets the group in its own controls; where a CLI cannot express a
group exactly, :func:`check` refuses it when the session starts (never more than asked).

- claude: ``--tools`` lists the built-in tools of the groups (MCP tools stay).
- codex: its shell is its reader, so a group without EXEC is refused; without WRITER the
  sandbox is read-only (commands run but cannot write: less, never more); without WEB its
  web search is off.
- opencode: permission rules deny the tools of the missing groups.
"""

from __future__ import annotations

import enum
from typing import Any

from ..errors import CawError


class ToolGroup(enum.Flag):
    READER = enum.auto()
    WRITER = enum.auto()
    EXEC = enum.auto()
    WEB = enum.auto()
    PARALLEL = enum.auto()
    INTERACTION = enum.auto()
    ALL = READER | WRITER | EXEC | WEB | PARALLEL | INTERACTION
    NO_INTERACTION = READER | WRITER | EXEC | WEB | PARALLEL

    def __sub__(self, other: ToolGroup) -> ToolGroup:
        return self & ~other


class ToolGroupUnsupported(CawError, ValueError):
    """The CLI cannot restrict its tools to this group exactly."""

    kind = "invalidParams"  # the daemon's answer: the request asked for what cannot be had


CLAUDE_TOOLS: dict[ToolGroup, tuple[str, ...]] = {
    ToolGroup.READER: ("Read", "Glob", "Grep", "NotebookRead", "TodoWrite", "ToolSearch"),
    ToolGroup.WRITER: ("Write", "Edit", "MultiEdit", "NotebookEdit"),
    ToolGroup.EXEC: ("Bash", "BashOutput", "KillShell", "KillBash"),
    ToolGroup.WEB: ("WebFetch", "WebSearch"),
    ToolGroup.PARALLEL: ("Task", "Agent"),
    ToolGroup.INTERACTION: ("AskUserQuestion", "ExitPlanMode", "EnterPlanMode"),
}

OPENCODE_PERMISSIONS: dict[ToolGroup, tuple[str, ...]] = {
    ToolGroup.READER: ("read", "glob", "grep", "list", "codesearch", "lsp"),
    ToolGroup.WRITER: ("edit",),  # covers write, edit, patch and multiedit
    ToolGroup.EXEC: ("bash",),
    ToolGroup.WEB: ("webfetch", "websearch"),
    ToolGroup.PARALLEL: ("task",),
    ToolGroup.INTERACTION: ("question",),
}

_SINGLE = (
    ToolGroup.READER, ToolGroup.WRITER, ToolGroup.EXEC,
    ToolGroup.WEB, ToolGroup.PARALLEL, ToolGroup.INTERACTION,
)  # fmt: skip


def claude_tools(group: ToolGroup) -> str:
    """The ``--tools`` value: the built-in tools of ``group``."""
    return ",".join(name for g in _SINGLE if g in group for name in CLAUDE_TOOLS[g])


def opencode_denials(group: ToolGroup) -> list[dict[str, Any]]:
    """opencode permission rules denying every tool outside ``group``."""
    return [
        {"permission": name, "pattern": "*", "action": "deny"}
        for g in _SINGLE
        if g not in group
        for name in OPENCODE_PERMISSIONS[g]
    ]


def check(provider: str, group: ToolGroup | None) -> None:
    """Refuse a group the provider cannot express exactly."""
    if group is None or group == ToolGroup.ALL:
        return
    if not isinstance(group, ToolGroup):
        raise TypeError(f"tools takes a ToolGroup, not {type(group).__name__}")
    if provider == "codex" and not group.value & ToolGroup.EXEC.value:
        raise ToolGroupUnsupported(
            f"codex cannot offer {group!r}: its shell is also how it reads files, so a group"
            " without ToolGroup.EXEC cannot be expressed (use claude_code or opencode)"
        )
    if provider == "codex" and not group.value & ToolGroup.READER.value:
        raise ToolGroupUnsupported(
            f"codex cannot offer {group!r}: it cannot run commands without reading files"
        )
