"""codex's wire -> caw events: app-server notifications (``codex exec --json`` items are
first put in the app-server's shape by :func:`exec_item`), token usage, turn errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ...events import Event, TextDelta, ThinkingDelta, ToolCall, ToolResult, UsageUpdate
from ...models import Location, Usage
from ...permissions.codex import applied_diff
from ...permissions.diffs import first_changed_line

_APP_SERVER_TOKENS = ("inputTokens", "cachedInputTokens", "cacheWriteInputTokens", "outputTokens")
EXEC_TOKENS = ("input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens")


def usage_of(
    tokens: Mapping[str, Any], names: tuple[str, str, str, str] = _APP_SERVER_TOKENS
) -> Usage:
    """Codex token counts (OpenAI style: input includes cached) as caw's disjoint counts."""
    total, cached, written, output = (int(tokens.get(name) or 0) for name in names)
    return Usage(
        input_tokens=max(0, total - cached - written),
        output_tokens=output,
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def minus(total: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, int]:
    return {k: v - int(base.get(k) or 0) for k, v in total.items() if isinstance(v, int)}


def _tool_call(item: Mapping[str, Any]) -> ToolCall | None:
    """The call an app-server thread item stands for (None for non-tool items)."""
    kind, item_id = item.get("type"), str(item.get("id", ""))
    if kind == "commandExecution":
        where = {"cwd": item["cwd"]} if item.get("cwd") else {}  # exec items carry no cwd
        return ToolCall(
            id=item_id, name="commandExecution", input={"command": item.get("command"), **where}
        )
    if kind == "fileChange":
        changes = [c for c in item.get("changes") or [] if isinstance(c, Mapping)]
        return ToolCall(
            id=item_id,
            name="fileChange",
            input={"changes": item.get("changes") or []},
            locations=[Location(path=str(c.get("path") or "")) for c in changes],
        )
    if kind == "mcpToolCall":
        args = item.get("arguments")
        return ToolCall(
            id=item_id,
            name=f"mcp__{item.get('server')}__{item.get('tool')}",
            input=args if isinstance(args, dict) else {"arguments": args},
        )
    if kind == "dynamicToolCall":
        args = item.get("arguments")
        return ToolCall(
            id=item_id,
            name=str(item.get("tool")),
            input=args if isinstance(args, dict) else {"arguments": args},
        )
    if kind == "webSearch":
        return ToolCall(id=item_id, name="webSearch", input={"query": item.get("query")})
    return None


def _tool_result(item: Mapping[str, Any]) -> ToolResult:
    status = item.get("status")
    failed = (
        status in ("failed", "declined")
        or item.get("exitCode") not in (None, 0)
        or bool(item.get("error"))
    )
    kind = item.get("type")
    if kind == "commandExecution":
        output = item.get("aggregatedOutput") or ("declined" if status == "declined" else "")
    elif kind == "mcpToolCall":
        result, error = item.get("result") or {}, item.get("error") or {}
        texts = [str(c.get("text", "")) for c in result.get("content") or [] if isinstance(c, dict)]
        output = str(error.get("message", "")) if error else "\n".join(texts)
    elif kind == "dynamicToolCall":
        output = "\n".join(
            str(c.get("text", "")) for c in item.get("contentItems") or [] if isinstance(c, dict)
        )
        failed = failed or item.get("success") is False
    else:
        output = str(status or "")
    return ToolResult(id=str(item.get("id", "")), output=output, is_error=failed)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def exec_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A ``codex exec --json`` item in the app-server's shape (camelCase names, summary list)."""
    out = {_camel(key): value for key, value in item.items()}
    out["type"] = _camel(str(out.get("type", "")))
    if out["type"] == "reasoning" and "summary" not in out:
        out["summary"] = [out.get("text") or ""]
    return out


class TurnTranslator:
    """Folds one turn's app-server notifications into caw events."""

    def __init__(self) -> None:
        self._streamed: set[str] = set()  # items whose text arrived as deltas
        # Whether text or thinking came since the last tool event. codex retries a broken model
        # request whole (the same input, a fresh answer), so that part of the turn is then void.
        self._prose_since_tool = False
        self._tools: set[str] = set()
        self._reasoning_kind: dict[
            str, str
        ] = {}  # item -> which delta kind it streams (summary or raw)
        self._summary_index: dict[str, int] = {}
        self._usage_base: Mapping[str, Any] | None = None
        self.error: str | None = None

    def events(self, method: str, params: Mapping[str, Any]) -> Iterator[Event]:
        if method == "item/agentMessage/delta":
            if params.get("delta"):
                self._streaming(str(params.get("itemId")))
                yield TextDelta(text=params["delta"])
        elif method in ("item/reasoning/summaryTextDelta", "item/reasoning/textDelta"):
            yield from self._reasoning(method, params)
        elif method in ("item/started", "item/completed"):
            yield from self._item(method, params.get("item") or {})
        elif method == "thread/tokenUsage/updated":
            usage = params.get("tokenUsage") or {}
            total, last = usage.get("total") or {}, usage.get("last") or {}
            if self._usage_base is None:  # the thread's total before this turn's first model call
                self._usage_base = minus(total, last)
            turn_usage = usage_of(minus(total, self._usage_base))
            # the last model call's tokens are the context now; the window as codex knows it
            turn_usage.context_tokens = _int_or_none(last.get("totalTokens"))
            turn_usage.context_window = _int_or_none(usage.get("modelContextWindow"))
            yield UsageUpdate(usage=turn_usage)
        elif method == "error":
            error = params.get("error") or {}
            if not params.get("willRetry"):
                self.error = error_text(error) or self.error
            elif self._prose_since_tool:
                self._prose_since_tool = False
                yield TextDelta(text="", replace=True)

    def _streaming(self, item_id: str) -> None:
        self._streamed.add(item_id)
        self._prose_since_tool = True

    def _reasoning(self, method: str, params: Mapping[str, Any]) -> Iterator[Event]:
        item_id, delta = str(params.get("itemId")), params.get("delta")
        # An item may stream both its summary and its raw text; show one of them.
        if not delta or self._reasoning_kind.setdefault(item_id, method) != method:
            return
        index = params.get("summaryIndex")
        if isinstance(index, int):
            if item_id in self._summary_index and self._summary_index[item_id] != index:
                delta = "\n\n" + delta
            self._summary_index[item_id] = index
        self._streaming(item_id)
        yield ThinkingDelta(text=delta)

    def _item(self, method: str, item: Mapping[str, Any]) -> Iterator[Event]:
        item_id, kind = str(item.get("id", "")), item.get("type")
        call = _tool_call(item)
        if call is not None:
            self._prose_since_tool = False
            # A file change's call waits for its completion, when the diff can be read
            # exactly (the files then hold the change; it is undone to get the old text).
            waits = kind == "fileChange" and method == "item/started"
            if item_id not in self._tools and not waits:
                self._tools.add(item_id)
                applied = kind == "fileChange" and item.get("status") == "completed"
                yield with_applied_diff(call) if applied else call
            if method == "item/completed":
                yield _tool_result(item)
        elif method == "item/completed" and item_id not in self._streamed:
            if kind == "agentMessage" and item.get("text"):
                self._prose_since_tool = True
                yield TextDelta(text=item["text"])
            elif kind == "reasoning":
                text = "\n\n".join(item.get("summary") or []) or "\n\n".join(
                    item.get("content") or []
                )
                if text:
                    self._prose_since_tool = True
                    yield ThinkingDelta(text=text)


def with_applied_diff(call: ToolCall) -> ToolCall:
    """A finished ``fileChange`` call with its first file's diff and each file's first
    changed line."""
    changes = [c for c in call.input.get("changes") or [] if isinstance(c, Mapping)]
    diffs = [diff for diff in map(applied_diff, changes) if diff is not None]
    if not diffs:
        return call
    located = {d.path: first_changed_line(d) for d in diffs}
    locations = [Location(path=loc.path, line=located.get(loc.path)) for loc in call.locations]
    return call.model_copy(update={"diff": diffs[0], "locations": locations})


def error_text(error: Mapping[str, Any]) -> str:
    """A turn error's message, with codex's classification (``codexErrorInfo``) appended."""
    message = str(error.get("message") or "")
    if error.get("additionalDetails"):
        message += f": {error['additionalDetails']}"
    info, status = error.get("codexErrorInfo"), None
    if (
        isinstance(info, dict) and info
    ):  # e.g. {"responseTooManyFailedAttempts": {"httpStatusCode": 429}}
        info, data = next(iter(info.items()))
        status = data.get("httpStatusCode") if isinstance(data, dict) else None
    # "usage limit" is what base.model_error recognises
    named = [
        "usage limit" if info == "usageLimitExceeded" else info if info != "other" else None,
        f"HTTP {status}" if status else None,
    ]
    tags = [str(tag) for tag in named if tag]
    return f"{message} ({', '.join(tags)})" if tags else message
