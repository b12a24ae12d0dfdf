"""codex app-server's permission questions and caw's answers in codex's terms.

Commands ask with ``item/commandExecution/requestApproval`` (the command is
``/bin/bash -lc '<cmd>'``; ``commandActions`` carry the inner command), file
changes with ``item/fileChange/requestApproval`` (only the ``itemId``: the
changes are on the ``fileChange`` item announced just before), MCP tools with
``mcpServer/elicitation/request`` (``_meta.codex_approval_kind ==
"mcp_tool_call"``). caw answers ``accept``/``decline`` and never
``acceptForSession`` or an execpolicy amendment: an "always" is a caw rule, kept
with the session, so it also holds after the app-server restarts.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from .diffs import diff_after_unified, diff_from_texts, diff_from_unified, read_text
from .models import FileDiff, Location, PermissionDecision, PermissionRequest

COMMAND = "item/commandExecution/requestApproval"
FILE_CHANGE = "item/fileChange/requestApproval"
ELICITATION = "mcpServer/elicitation/request"
ASKS = (COMMAND, FILE_CHANGE)


def is_permission_request(method: str, params: Mapping[str, Any]) -> bool:
    if method in ASKS:
        return True
    meta = params.get("_meta") if method == ELICITATION else None
    return isinstance(meta, Mapping) and meta.get("codex_approval_kind") == "mcp_tool_call"


def shell_command(command: str) -> str:
    """The command the model wrote, out of codex's ``/bin/bash -lc '<cmd>'`` wrapper."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    if len(words) == 3 and words[0].endswith("sh") and words[1] in ("-lc", "-c"):
        return words[2]
    return command


def permission_request(
    method: str, params: Mapping[str, Any], item: Mapping[str, Any] | None = None
) -> PermissionRequest:
    """The caw question for one codex server request (``item``: the thread item it is about)."""
    item_id = str(params.get("itemId") or params.get("callId") or "")
    if method == COMMAND:
        command = shell_command(str(params.get("command") or ""))
        cwd = params.get("cwd")
        return PermissionRequest(
            id=item_id,
            tool="commandExecution",
            tool_kind="execute",
            title=command,
            command=command,
            raw_input={"command": command, **({"cwd": cwd} if cwd else {})},
            locations=[Location(path=cwd)] if isinstance(cwd, str) and cwd else [],
        )
    if method == FILE_CHANGE:
        changes = [c for c in (item or {}).get("changes") or [] if isinstance(c, Mapping)]
        diffs = [_diff(change) for change in changes]
        paths = [d.path for d in diffs]
        kinds = {str((c.get("kind") or {}).get("type")) for c in changes}
        return PermissionRequest(
            id=item_id,
            tool="fileChange",
            tool_kind="delete" if kinds == {"delete"} else "edit",
            title="Edit " + ", ".join(paths) if paths else "Edit files",
            raw_input={
                "changes": changes,
                **({"reason": params["reason"]} if params.get("reason") else {}),
            },
            locations=[Location(path=p) for p in paths],
            diff=diffs,
        )
    meta = params.get("_meta") or {}
    server, tool = params.get("serverName") or "", meta.get("tool_name") or ""
    name = f"mcp__{server}__{tool}"
    raw = meta.get("tool_params")
    return PermissionRequest(
        id=str(meta.get("call_id") or item_id or name),
        tool=name,
        tool_kind="other",
        title=str(params.get("message") or name),
        raw_input=raw if isinstance(raw, dict) else {"arguments": raw},
    )


def _diff(change: Mapping[str, Any]) -> FileDiff:
    path = str(change.get("path") or "")
    kind = (change.get("kind") or {}).get("type")
    text = str(change.get("diff") or "")
    if kind == "add":
        return (
            diff_from_texts(path, text, old_text=None)
            if read_text(path) is None
            else diff_from_texts(path, text)
        )
    if kind == "delete":
        return FileDiff(path=path, old_text=read_text(path), new_text="")
    return diff_from_unified(path, text)


def applied_diff(change: Mapping[str, Any]) -> FileDiff | None:
    """One change of a finished ``fileChange`` item, the file read as the change left it
    (``add``: the diff is the new file's text; ``delete``: the old file's). None when the
    file no longer matches the change."""
    path = str(change.get("path") or "")
    kind = change.get("kind") or {}
    text = str(change.get("diff") or "")
    if kind.get("type") == "add":
        return FileDiff(path=path, old_text=None, new_text=read_text(path) or text)
    if kind.get("type") == "delete":
        return FileDiff(path=path, old_text=text, new_text="")
    moved = kind.get("move_path")
    after = diff_after_unified(moved if isinstance(moved, str) and moved else path, text)
    return after.model_copy(update={"path": path}) if after is not None else None


def permission_response(method: str, decision: PermissionDecision) -> dict[str, Any]:
    """codex's answer for ``decision``."""
    if method == ELICITATION:
        return {"action": "accept", "content": {}} if decision.allowed else {"action": "decline"}
    return {"decision": "accept" if decision.allowed else "decline"}
