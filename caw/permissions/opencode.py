"""opencode serve's permission questions: the ``permission.asked`` event and its reply.

The event carries ``{id, sessionID, permission (bash, edit, webfetch or the MCP
tool name), patterns, metadata ({command} for bash, {filepath, diff} for an edit),
always, tool:{messageID, callID}}``; the answer is ``POST /permission/{id}/reply
{reply: once|reject, message?}``. caw never replies ``always``: opencode would
approve its broader ``always`` patterns (``touch *`` for ``touch a.txt``) for
every session of the process, and forget them on restart; an "always" is a caw
rule instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .diffs import diff_from_unified
from .models import Location, PermissionDecision, PermissionRequest, ToolKind

_KINDS: dict[str, ToolKind] = {
    "bash": "execute",
    "edit": "edit",
    "write": "edit",
    "patch": "edit",
    "read": "read",
    "glob": "search",
    "grep": "search",
    "list": "search",
    "webfetch": "fetch",
    "websearch": "fetch",
}


def permission_request(props: Mapping[str, Any]) -> PermissionRequest:
    """The caw question for one ``permission.asked`` event's properties."""
    tool = str(props.get("permission") or "")
    given = props.get("metadata")
    meta: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    patterns = [str(p) for p in props.get("patterns") or []]
    kind = _KINDS.get(tool, "other")
    command = meta.get("command") if isinstance(meta.get("command"), str) else None
    if kind == "execute" and command is None and patterns:
        command = patterns[0]
    path = meta.get("filepath") or meta.get("filePath") or meta.get("path")
    locations = [Location(path=path)] if isinstance(path, str) and path else []
    diff_text = meta.get("diff")
    diff = (
        [diff_from_unified(locations[0].path, diff_text)]
        if locations and isinstance(diff_text, str)
        else []
    )
    title = command or (f"{tool} {path}" if locations else f"{tool} {' '.join(patterns)}".strip())
    call = (props.get("tool") or {}).get("callID")
    return PermissionRequest(
        id=str(call or props.get("id") or ""),
        tool=tool,
        tool_kind=kind,
        title=title,
        command=command if kind == "execute" else None,
        raw_input={k: v for k, v in meta.items() if k != "diff"} or {"patterns": patterns},
        locations=locations,
        diff=diff,
    )


def permission_reply(decision: PermissionDecision) -> dict[str, str]:
    """The body of ``POST /permission/{id}/reply`` for ``decision``."""
    if decision.allowed:
        return {"reply": "once"}
    return {"reply": "reject", "message": decision.message or "The user rejected this tool call."}
