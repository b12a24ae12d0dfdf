"""claude's permission questions: ``can_use_tool`` control requests over stream-json.

With ``--permission-prompt-tool stdio`` claude writes
``{"type":"control_request","request_id":…,"request":{"subtype":"can_use_tool",
"tool_name","input","tool_use_id","permission_suggestions",…}}`` and waits for a
``control_response``. caw answers ``allow`` or ``deny`` and never sends
``updatedPermissions``: claude's suggestions include ``setMode acceptEdits``,
which would silently stop it asking about unrelated edits and commands. An
"always" is a caw rule instead (see :mod:`caw.permissions.rules`).
"""

from __future__ import annotations

from typing import Any

from .diffs import edit_diff, read_text
from .models import FileDiff, Location, PermissionDecision, PermissionRequest, ToolKind

_KINDS: dict[str, ToolKind] = {
    "Bash": "execute",
    "BashOutput": "execute",
    "KillShell": "execute",
    "Edit": "edit",
    "MultiEdit": "edit",
    "Write": "edit",
    "NotebookEdit": "edit",
    "Read": "read",
    "Glob": "search",
    "Grep": "search",
    "WebFetch": "fetch",
    "WebSearch": "fetch",
}


def is_permission_request(line: dict[str, Any]) -> bool:
    return (
        line.get("type") == "control_request"
        and (line.get("request") or {}).get("subtype") == "can_use_tool"
    )


def permission_request(line: dict[str, Any]) -> PermissionRequest:
    """The caw question for one ``can_use_tool`` control request."""
    ask = line.get("request") or {}
    tool = str(ask.get("tool_name") or "")
    given = ask.get("input")
    raw: dict[str, Any] = given if isinstance(given, dict) else {}
    kind = _KINDS.get(tool, "other")
    command = (
        raw.get("command") if kind == "execute" and isinstance(raw.get("command"), str) else None
    )
    path = raw.get("file_path") or raw.get("notebook_path") or raw.get("path")
    locations = [Location(path=path)] if isinstance(path, str) and path else []
    diff = _diff(tool, raw, path) if isinstance(path, str) and path else []
    title = command or (f"{tool} {path}" if locations else str(ask.get("description") or tool))
    return PermissionRequest(
        id=str(ask.get("tool_use_id") or line.get("request_id") or ""),
        tool=tool,
        tool_kind=kind,
        title=title,
        command=command,
        raw_input=raw,
        locations=locations,
        diff=diff,
    )


def _diff(tool: str, raw: dict[str, Any], path: str) -> list[FileDiff]:
    diff = edit_diff(tool, raw, path, read_text(path))
    return [diff] if diff is not None else []


def permission_response(line: dict[str, Any], decision: PermissionDecision) -> dict[str, Any]:
    """The ``control_response`` that carries ``decision`` back to claude."""
    ask = line.get("request") or {}
    if decision.allowed:
        answer: dict[str, Any] = {"behavior": "allow", "updatedInput": ask.get("input") or {}}
    else:
        answer = {
            "behavior": "deny",
            "message": decision.message or "The user rejected this tool call.",
        }
    return {
        "type": "control_response",
        "response": {
            "subtype": "success",
            "request_id": line.get("request_id"),
            "response": answer,
        },
    }
