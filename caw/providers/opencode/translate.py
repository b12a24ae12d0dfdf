"""opencode's wire -> caw events: serve's ``GET /event`` parts, ``opencode run`` lines, usage, errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import BackendFailed
from ...events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from ...models import Usage
from ...tools.wiring import mcp_tool_name
from ..base import model_error


def usage_of(tokens: Mapping[str, Any] | None, cost: Any = None) -> Usage:
    tokens = tokens or {}
    cache = tokens.get("cache") or {}
    return Usage(
        input_tokens=int(tokens.get("input") or 0),
        # opencode counts reasoning apart; the APIs bill it as output
        output_tokens=int(tokens.get("output") or 0) + int(tokens.get("reasoning") or 0),
        cache_read_tokens=int(cache.get("read") or 0),
        cache_write_tokens=int(cache.get("write") or 0),
        cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
    )


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
            if status in ("running", "completed", "error") and call not in turn.tool_calls:
                turn.tool_calls.add(call)
                out.append(
                    ToolCall(
                        id=call,
                        name=mcp_tool_name(str(part.get("tool") or ""), turn.mcp_servers),
                        input=state.get("input") or {},
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
        return [
            ToolCall(
                id=call,
                name=mcp_tool_name(str(part.get("tool") or ""), mcp_servers),
                input=state.get("input") or {},
            ),
            result,
        ], usage
    if kind == "step_finish":
        usage = usage + usage_of(part.get("tokens"), part.get("cost"))
        return [UsageUpdate(usage=usage.model_copy())], usage
    return [], usage
