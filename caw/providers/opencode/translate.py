"""opencode's wire -> caw events: serve's ``GET /event`` parts, ``opencode run`` lines, usage, errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import BackendFailed
from ...events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from ...models import FileDiff, Location, Usage
from ...permissions.diffs import diff_after_unified, first_changed_line, read_text
from ...tools.wiring import mcp_tool_name
from ..base import model_error


def usage_of(tokens: Mapping[str, Any] | None, cost: Any = None) -> Usage:
    tokens = tokens or {}
    cache = tokens.get("cache") or {}
    usage = Usage(
        input_tokens=int(tokens.get("input") or 0),
        # opencode counts reasoning apart; the APIs bill it as output
        output_tokens=int(tokens.get("output") or 0) + int(tokens.get("reasoning") or 0),
        cache_read_tokens=int(cache.get("read") or 0),
        cache_write_tokens=int(cache.get("write") or 0),
        cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
    )
    # one step's tokens are one model request and its answer: the context after that step
    step = int(tokens.get("total") or 0) or (
        usage.input_tokens
        + usage.output_tokens
        + usage.cache_read_tokens
        + usage.cache_write_tokens
    )
    usage.context_tokens = step or None
    return usage


def error_of(error: Mapping[str, Any]) -> BackendFailed:
    """The caw error for an opencode message/session ``error`` object."""
    name = str(error.get("name") or "Error")
    data = error.get("data") or {}
    message = str(data.get("message") or name)
    status = data.get("statusCode")
    if name == "APIError":
        return model_error(
            f"opencode reported a model API error{f' (HTTP {status})' if status else ''}: {message}"
        )
    if name in ("ProviderAuthError", "MessageOutputLengthError", "ContextOverflowError"):
        return model_error(f"opencode reported {name}: {message}")
    return BackendFailed(f"opencode reported {name}: {message}")


EDIT_TOOLS = ("edit", "write", "patch", "multiedit")


def _file_text(tool_input: Mapping[str, Any]) -> str | None:
    path = tool_input.get("filePath")
    return read_text(path) if isinstance(path, str) and path else None


def tool_call(call: str, name: str, state: Mapping[str, Any], before: str | None) -> ToolCall:
    """The call of a tool part in ``state``; a completed edit's carries its diff (``before``:
    the file's text when the edit started, for a ``write`` over an existing file)."""
    tool_input = state.get("input") or {}
    path = tool_input.get("filePath")
    offset = tool_input.get("offset")
    line = offset if isinstance(offset, int) and offset > 0 else None
    locations = [Location(path=path, line=line)] if isinstance(path, str) and path else []
    diff = _applied_diff(name, state, before) if state.get("status") == "completed" else None
    if diff is not None:
        if not any(loc.path == diff.path for loc in locations):
            locations.insert(0, Location(path=diff.path))
        locations = [
            loc.model_copy(update={"line": first_changed_line(diff)})
            if loc.path == diff.path
            else loc
            for loc in locations
        ]
    return ToolCall(id=call, name=name, input=tool_input, locations=locations, diff=diff)


def _applied_diff(name: str, state: Mapping[str, Any], before: str | None) -> FileDiff | None:
    """A finished edit's diff, from opencode's metadata: ``filediff`` (``before``/``after``
    texts, or a ``patch`` undone on the file as it is now), else a ``write``'s content."""
    meta = state.get("metadata") or {}
    tool_input = state.get("input") or {}
    filediff = meta.get("filediff")
    if isinstance(filediff, Mapping) and isinstance(filediff.get("file"), str):
        path = filediff["file"]
        if isinstance(filediff.get("after"), str):
            old = filediff.get("before")
            return FileDiff(path=path, old_text=old or None, new_text=filediff["after"])
        if isinstance(filediff.get("patch"), str):
            return diff_after_unified(path, filediff["patch"])
    path = meta.get("filepath") or tool_input.get("filePath")
    if name == "write" and isinstance(path, str) and isinstance(tool_input.get("content"), str):
        if meta.get("exists") is False:
            return FileDiff(path=path, old_text=None, new_text=tool_input["content"])
        if before is not None and before != tool_input["content"]:
            return FileDiff(path=path, old_text=before, new_text=tool_input["content"])
    return None


@dataclass
class TurnState:
    """What one turn has seen so far, to filter events and never emit anything twice."""

    user_message: str
    mcp_servers: tuple[str, ...] = ()  # the session's MCP server names (tool call names)
    assistant: set[str] = field(
        default_factory=set
    )  # our assistant messages (parentID == user_message)
    completed: set[str] = field(default_factory=set)
    part_kinds: dict[str, str] = field(default_factory=dict)  # partID -> "text" | "reasoning"
    emitted: dict[str, int] = field(default_factory=dict)  # partID -> characters emitted
    final_parts: set[str] = field(default_factory=set)  # text parts whose full text has arrived
    tool_calls: set[str] = field(default_factory=set)
    # edit calls held until they end -> the file's text when they started (a write's old text)
    before: dict[str, str | None] = field(default_factory=dict)
    tool_results: set[str] = field(default_factory=set)
    steps: set[str] = field(default_factory=set)
    usage: Usage = field(default_factory=Usage)
    infos: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # our assistant messages' latest info
    last: str | None = None  # our newest assistant message
    seen_user: bool = False
    retried: bool = False  # the model request was retried since the last text we emitted
    failure: BackendFailed | None = None

    def text_event(self, kind: str, text: str) -> Event:
        """A text or thinking delta; the first after a retry voids what the broken attempt streamed."""
        replace, self.retried = self.retried, False
        return (
            ThinkingDelta(text=text, replace=replace)
            if kind == "reasoning"
            else TextDelta(text=text, replace=replace)
        )

    def part_events(self, part: Mapping[str, Any]) -> list[Event]:
        """The new events in a (possibly repeated or partial) part of our assistant messages."""
        turn = self
        if part.get("messageID") not in turn.assistant:
            return []
        kind = part.get("type")
        part_id = str(part.get("id") or "")
        out: list[Event] = []
        if kind in ("text", "reasoning"):
            if part.get("synthetic") or part.get("ignored"):
                return []
            turn.part_kinds[part_id] = kind
            text = str(part.get("text") or "")
            done = turn.emitted.get(part_id, 0)
            if len(text) > done:
                turn.emitted[part_id] = len(text)
                out.append(turn.text_event(kind, text[done:]))
            if (part.get("time") or {}).get("end"):
                turn.final_parts.add(part_id)
        elif kind == "tool":
            call = str(part.get("callID") or part_id)
            state = part.get("state") or {}
            status = state.get("status")
            tool = str(part.get("tool") or "")
            # An edit's call waits for its end, when opencode's metadata gives the exact diff.
            waits = tool in EDIT_TOOLS and status == "running"
            if waits and call not in turn.before:
                turn.before[call] = _file_text(state.get("input") or {})
            if (
                status in ("running", "completed", "error")
                and call not in turn.tool_calls
                and not waits
            ):
                turn.tool_calls.add(call)
                out.append(
                    tool_call(
                        call,
                        mcp_tool_name(tool, turn.mcp_servers),
                        state,
                        turn.before.pop(call, None),
                    )
                )
            if status in ("completed", "error") and call not in turn.tool_results:
                turn.tool_results.add(call)
                if status == "completed":
                    out.append(ToolResult(id=call, output=str(state.get("output") or "")))
                else:
                    out.append(
                        ToolResult(
                            id=call, output=str(state.get("error") or "error"), is_error=True
                        )
                    )
        elif kind == "step-finish" and part_id not in turn.steps:
            turn.steps.add(part_id)
            turn.usage = turn.usage + usage_of(part.get("tokens"), part.get("cost"))
            out.append(UsageUpdate(usage=turn.usage.model_copy()))
        return out


def run_line_events(
    line: Mapping[str, Any], usage: Usage, mcp_servers: tuple[str, ...] = ()
) -> tuple[list[Event], Usage]:
    """The events of one ``opencode run --format json`` line, and the turn's usage after it."""
    kind = line.get("type")
    part = line.get("part") or {}
    if kind == "text" and part.get("text") and not part.get("synthetic"):
        return [TextDelta(text=part["text"])], usage
    if kind == "reasoning" and part.get("text"):
        return [ThinkingDelta(text=part["text"])], usage
    if kind == "tool_use":
        call = str(part.get("callID") or part.get("id") or "")
        state = part.get("state") or {}
        result = (
            ToolResult(id=call, output=str(state.get("error") or "error"), is_error=True)
            if state.get("status") == "error"
            else ToolResult(id=call, output=str(state.get("output") or ""))
        )
        name = mcp_tool_name(str(part.get("tool") or ""), mcp_servers)
        return [tool_call(call, name, state, None), result], usage
    if kind == "step_finish":
        usage = usage + usage_of(part.get("tokens"), part.get("cost"))
        return [UsageUpdate(usage=usage.model_copy())], usage
    return [], usage
