"""caw's turn events as ACP ``session/update`` payloads.

One :class:`UpdateMapper` per prompt: it remembers each tool call's kind so the
result can say ``completed`` or ``failed`` on the same ``toolCallId``.
"""

from __future__ import annotations

from typing import Any

from acp import schema
from acp.schema import ToolKind

from ..events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from ..models import FileDiff, Usage

SessionUpdate = (
    schema.UserMessageChunk
    | schema.AgentMessageChunk
    | schema.AgentThoughtChunk
    | schema.ToolCallStart
    | schema.ToolCallProgress
    | schema.UsageUpdate
)

# The CLIs' tool names (claude, codex, opencode) -> ACP's ToolKind.
_KINDS: dict[str, ToolKind] = {
    "bash": "execute",
    "bashoutput": "execute",
    "killshell": "execute",
    "commandexecution": "execute",
    "exec_command": "execute",
    "shell": "execute",
    "edit": "edit",
    "multiedit": "edit",
    "write": "edit",
    "notebookedit": "edit",
    "filechange": "edit",
    "apply_patch": "edit",
    "patch": "edit",
    "read": "read",
    "glob": "search",
    "grep": "search",
    "list": "search",
    "ls": "search",
    "websearch": "fetch",
    "webfetch": "fetch",
    "fetch": "fetch",
}

_PATH_KEYS = ("file_path", "filePath", "notebook_path", "path")

#: ACP's ``usage_update`` needs the context window's size, which the CLIs do not report on
#: their wires; this is the smallest window of the three CLIs' default models.
CONTEXT_WINDOW = 200_000


def tool_kind(name: str) -> ToolKind:
    return _KINDS.get(name.lower(), "other")


def _paths(tool_input: dict[str, Any]) -> list[str]:
    found = [v for k in _PATH_KEYS if isinstance(v := tool_input.get(k), str) and v]
    changes = tool_input.get("changes")  # codex fileChange: [{path, kind, diff}]
    if isinstance(changes, list):
        found += [
            c["path"] for c in changes if isinstance(c, dict) and isinstance(c.get("path"), str)
        ]
    return found


def tool_title(name: str, tool_input: dict[str, Any]) -> str:
    """What a person reads: the command, else the tool and its file, else the tool."""
    for key in ("command", "cmd"):
        value = tool_input.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, list) and value:
            return " ".join(str(part) for part in value)
    paths = _paths(tool_input)
    return f"{name} {paths[0]}" if paths else name


def tool_call_start(
    call: ToolCall, status: schema.ToolCallStatus = "in_progress"
) -> schema.ToolCallStart:
    return schema.ToolCallStart(
        session_update="tool_call",
        tool_call_id=call.id,
        title=tool_title(call.name, call.input),
        kind=tool_kind(call.name),
        status=status,
        raw_input=call.input,
        locations=[schema.ToolCallLocation(path=loc.path, line=loc.line) for loc in call.locations]
        or [schema.ToolCallLocation(path=p) for p in _paths(call.input)]
        or None,
        content=[diff_content(call.diff)] if call.diff is not None else None,
    )


def diff_content(diff: FileDiff) -> schema.FileEditToolCallContent:
    return schema.FileEditToolCallContent(
        type="diff", path=diff.path, old_text=diff.old_text, new_text=diff.new_text
    )


def tool_call_done(
    call_id: str, output: str, is_error: bool, diff: FileDiff | None = None
) -> schema.ToolCallProgress:
    """The call's end; an edit's ``diff`` stays in its content (an update replaces it)."""
    content: list[
        schema.ContentToolCallContent
        | schema.FileEditToolCallContent
        | schema.TerminalToolCallContent
    ] = []
    if diff is not None:
        content.append(diff_content(diff))
    if output:
        content.append(
            schema.ContentToolCallContent(
                type="content", content=schema.TextContentBlock(type="text", text=output)
            )
        )
    return schema.ToolCallProgress(
        session_update="tool_call_update",
        tool_call_id=call_id,
        status="failed" if is_error else "completed",
        raw_output={"output": output, "isError": is_error},
        content=content or None,
    )


def usage_update(usage: Usage) -> schema.UsageUpdate:
    used = (
        usage.input_tokens
        + usage.cache_read_tokens
        + usage.cache_write_tokens
        + usage.output_tokens
    )
    cost = (
        schema.Cost(amount=usage.cost_usd, currency="USD") if usage.cost_usd is not None else None
    )
    return schema.UsageUpdate(
        session_update="usage_update", used=used, size=max(CONTEXT_WINDOW, used), cost=cost
    )


def text_chunk(kind: str, text: str) -> SessionUpdate:
    block = schema.TextContentBlock(type="text", text=text)
    if kind == "user":
        return schema.UserMessageChunk(session_update="user_message_chunk", content=block)
    if kind == "thought":
        return schema.AgentThoughtChunk(session_update="agent_thought_chunk", content=block)
    return schema.AgentMessageChunk(session_update="agent_message_chunk", content=block)


def to_update(event: Event, diffs: dict[str, FileDiff] | None = None) -> SessionUpdate | None:
    """The ACP update for one caw event (None for a permission question: it is a request).
    ``diffs``: the turn's edit diffs by call id, kept from a call to its result."""
    if isinstance(event, TextDelta):
        return text_chunk("agent", event.text) if event.text else None
    if isinstance(event, ThinkingDelta):
        return text_chunk("thought", event.text) if event.text else None
    if isinstance(event, ToolCall):
        if event.diff is not None and diffs is not None:
            diffs[event.id] = event.diff
        return tool_call_start(event)
    if isinstance(event, ToolResult):
        diff = diffs.pop(event.id, None) if diffs is not None else None
        return tool_call_done(event.id, event.output, event.is_error, diff)
    if isinstance(event, UsageUpdate):
        return usage_update(event.usage)
    return None
